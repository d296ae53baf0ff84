// A log restored from a logical backup onto another server holds transaction ids ahead of that
// server's counter: every process refuses to start on it (ensureMigrated, npm run db:migrate),
// saying what to do, instead of writing events that sort before the restored ones.
import { randomUUID } from "node:crypto";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { ensureMigrated, type Database } from "./client";
import { LogAheadOfServerError, refuseLogAheadOfServer, resetwalTarget } from "./restoredLog";
import { openFreshPostgresDatabase, openTestDatabase, pgUrl } from "../testing/db";

/** An event as a restored dump holds it: written by a transaction `ahead` ids past this server's next one. */
const restoredEvent = (ahead: number) => ({
  text: `INSERT INTO events (event_id, stream_id, aggregate_type, event_type, version, data, occurred_at, user_id, correlation_id, hash, transaction_id)
         VALUES ($1, $2, 'patient', 'PatientRegistered', 1, '{}', now(), 'restored', 'restored', '\\x00', (pg_snapshot_xmax(pg_current_snapshot())::text::bigint + $3)::text::xid8)`,
  params: [randomUUID(), `patient-${randomUUID()}`, ahead],
});

describe("the next multiple of 2^20 above a transaction id, as pg_resetwal takes it", () => {
  it("in the same epoch, and into the next one at its end", () => {
    expect(resetwalTarget(61037n)).toEqual({ epoch: 0n, xid: 0x100000n });
    expect(resetwalTarget(0x100000n)).toEqual({ epoch: 0n, xid: 0x200000n });
    expect(resetwalTarget((3n << 32n) | 0xfff00005n)).toEqual({ epoch: 4n, xid: 0x100000n });
  });
});

describe("a log ahead of the server's transaction counter", () => {
  it("[embedded] refuses, naming pg_resetwal's values; a log behind it passes", async () => {
    const db: Database = await openTestDatabase("embedded");
    try {
      await expect(refuseLogAheadOfServer(db.sql)).resolves.toBeUndefined();
      const { text, params } = restoredEvent(5000);
      await db.sql(text, params);
      await expect(refuseLogAheadOfServer(db.sql)).rejects.toThrow(/logical backup \(pg_dump\).*pg_resetwal -e 0 -x 0x100000/);
    } finally {
      await db.close();
    }
  });

  it.skipIf(!pgUrl)("[postgresql] stops every process at ensureMigrated, as the app's role", { timeout: 60_000 }, async () => {
    const { db, ownerUrl, drop } = await openFreshPostgresDatabase(2);
    try {
      await expect(ensureMigrated(db, undefined)).resolves.toBeDefined();
      const owner = new pg.Client({ connectionString: ownerUrl });
      await owner.connect();
      try {
        const { text, params } = restoredEvent(100_000);
        await owner.query(text, params);
      } finally {
        await owner.end();
      }
      const refused = await ensureMigrated(db, undefined).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(LogAheadOfServerError);
      expect((refused as Error).message).toContain("ahead of this PostgreSQL server's next one");
    } finally {
      await drop();
    }
  });
});
