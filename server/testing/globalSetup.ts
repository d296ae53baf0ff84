// Once per test run: when DATABASE_URL points at a PostgreSQL server, create a fresh database on
// it for this run (never the developer's own), migrate it as the owner, hand the tests its URL
// as the app's restricted role (and the owner's URL for tests that play the DBA), and drop it at
// the end. Without DATABASE_URL the PostgreSQL-only tests skip and say why.
// And once per run, an embedded database migrated in memory, saved as a file that every embedded
// suite starts from (server/testing/db.ts): initdb and the migrations once, not once per suite.
import pg from "pg";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { dumpEmbedded, openDatabase } from "../db/client";
import { migrate } from "../db/migrate";
import { ensureAppLoginRole, urlAsUser } from "../db/roles";

/** The login role the tests connect as: a member of emr_app, like the app in production. */
export const testAppRole = "emr_app_test";

declare module "vitest" {
  export interface ProvidedContext {
    pgUrl: string | null;
    pgOwnerUrl: string | null;
    /** A migrated database on the same server that no one connects to: CREATE DATABASE … TEMPLATE it. */
    pgTemplate: string | null;
    /** A migrated embedded database's files (PGlite dumpDataDir), for OpenOptions.embeddedImage. */
    embeddedImagePath: string;
  }
}

/** Migrates an in-memory embedded database and saves its files at `path`. */
async function writeEmbeddedImage(path: string): Promise<void> {
  const embedded = await openDatabase({ dataDir: "memory://" });
  try {
    await migrate(embedded);
    writeFileSync(path, Buffer.from(await (await dumpEmbedded(embedded)).arrayBuffer()));
  } finally {
    await embedded.close();
  }
}

export default async function setup(project: TestProject) {
  const imageDir = mkdtempSync(join(tmpdir(), "emr-test-image-"));
  const removeImage = () => rmSync(imageDir, { recursive: true, force: true });
  const imagePath = join(imageDir, "migrated.tar");
  // In this process while PostgreSQL migrates the run's databases below.
  const image = writeEmbeddedImage(imagePath).catch((error: unknown) => {
    removeImage();
    throw error;
  });
  project.provide("embeddedImagePath", imagePath);

  const base = process.env.DATABASE_URL?.trim();
  if (!base) {
    project.provide("pgUrl", null);
    project.provide("pgOwnerUrl", null);
    project.provide("pgTemplate", null);
    await image;
    return removeImage;
  }
  const name = `emr_test_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  // A second database, migrated alike and never connected to again: the template that the tests
  // wanting a database of their own copy (openFreshPostgresDatabase), instead of migrating each.
  const template = `${name}_template`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.query(`CREATE DATABASE ${template}`);
  await admin.end();
  const urlOf = (database: string) => Object.assign(new URL(base), { pathname: `/${database}` }).toString();
  for (const database of [name, template]) {
    const db = await openDatabase({ url: urlOf(database), poolMax: 2 });
    await migrate(db);
    await db.close();
  }
  await ensureAppLoginRole(urlOf(name), testAppRole);
  project.provide("pgUrl", urlAsUser(urlOf(name), testAppRole));
  project.provide("pgOwnerUrl", urlOf(name));
  project.provide("pgTemplate", template);
  await image;

  return async () => {
    removeImage();
    const client = new pg.Client({ connectionString: base });
    await client.connect();
    await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await client.query(`DROP DATABASE IF EXISTS ${template} WITH (FORCE)`);
    await client.end();
  };
}
