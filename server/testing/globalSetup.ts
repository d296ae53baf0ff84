// Once per test run: when DATABASE_URL points at a PostgreSQL server, create a fresh database on
// it for this run (never the developer's own), migrate it as the owner, hand the tests its URL
// as the app's restricted role (and the owner's URL for tests that play the DBA), and drop it at
// the end. Without DATABASE_URL the PostgreSQL-only tests skip and say why.
import pg from "pg";
import type { TestProject } from "vitest/node";
import { openDatabase } from "../db/client";
import { migrate } from "../db/migrate";
import { ensureAppLoginRole, urlAsUser } from "../db/roles";

/** The login role the tests connect as: a member of emr_app, like the app in production. */
export const testAppRole = "emr_app_test";

declare module "vitest" {
  export interface ProvidedContext {
    pgUrl: string | null;
    pgOwnerUrl: string | null;
  }
}

export default async function setup(project: TestProject) {
  const base = process.env.DATABASE_URL?.trim();
  if (!base) {
    project.provide("pgUrl", null);
    project.provide("pgOwnerUrl", null);
    return;
  }
  const name = `emr_test_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(base);
  url.pathname = `/${name}`;
  const db = await openDatabase({ url: url.toString(), poolMax: 2 });
  await migrate(db);
  await db.close();
  await ensureAppLoginRole(url.toString(), testAppRole);
  project.provide("pgUrl", urlAsUser(url.toString(), testAppRole));
  project.provide("pgOwnerUrl", url.toString());

  return async () => {
    const client = new pg.Client({ connectionString: base });
    await client.connect();
    await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await client.end();
  };
}
