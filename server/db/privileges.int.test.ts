// A login that may only read starts nothing: ensureMigrated (every process's start-up) names what
// it lacks, instead of a server that says "ready" and fails every write.
import pg from "pg";
import { expect, it } from "vitest";
import { ensureMigrated, openDatabase } from "./client";
import { MissingPrivilegesError } from "./privileges";
import { grantConnect, urlAsUser } from "./roles";
import { openFreshPostgresDatabase, pgOwnerUrl, pgUrl } from "../testing/db";

it.skipIf(!pgUrl)("refuses a read-only login at start-up, naming the privileges; the app's role starts", { timeout: 60_000 }, async () => {
  const fresh = await openFreshPostgresDatabase(1);
  const reader = `emr_reader_${Math.random().toString(36).slice(2, 8)}`;
  const owner = new pg.Client({ connectionString: pgOwnerUrl! });
  await owner.connect();
  try {
    await expect(ensureMigrated(fresh.db, undefined)).resolves.toBeDefined();
    // A reporting login given by mistake: it may read everything and write nothing.
    await owner.query(`CREATE ROLE ${reader} LOGIN IN ROLE pg_read_all_data`);
    await grantConnect(fresh.ownerUrl, reader);
    const readOnly = await openDatabase({ url: urlAsUser(fresh.ownerUrl, reader), poolMax: 1 });
    try {
      const refused = await ensureMigrated(readOnly, undefined).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(MissingPrivilegesError);
      expect((refused as Error).message).toMatch(new RegExp(`${reader} lacks .*EXECUTE on append_to_stream.*INSERT, UPDATE on auth_sessions`));
    } finally {
      await readOnly.close();
    }
  } finally {
    await fresh.drop();
    await owner.query(`DROP ROLE IF EXISTS ${reader}`).catch(() => undefined);
    await owner.end();
  }
});
