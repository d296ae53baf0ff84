// The projections' cron pass: each async projection applies until caught up, then gives its
// lease back so the next call (or a worker in another process) can go on at once.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "../db/client";
import { appendToStream } from "../eventStore";
import { openTestDatabase } from "../testing/db";
import { newStreamId, note, storeOf, testRegistry } from "../testing/events";
import { noteProjection, noteTablesSql } from "../testing/noteProjection";
import { projectionsCronPass } from "./projections";

describe("projections cron pass [embedded]", () => {
  let db: Database;
  beforeAll(async () => {
    db = await openTestDatabase("embedded");
    await db.withSession((s) => s.exec(noteTablesSql));
  });
  afterAll(async () => db?.close());

  it("applies everything visible, reports it, and releases the lease", async () => {
    const stream = newStreamId();
    const events = Array.from({ length: 2_500 }, (_, i) => note(i + 1));
    await appendToStream(storeOf(db), stream, events, { expectedVersion: "no_stream", aggregateType: "note" });
    const projection = noteProjection();
    const pass = await projectionsCronPass(db, [projection], { registry: testRegistry });
    expect(pass.projections).toEqual([{ name: "note_totals", applied: 2_500, caughtUp: true, leased: true, failed: false }]);
    const [row] = await db.sql<{ lease_owner: string | null; n: number }>(
      "SELECT lease_owner, (SELECT count(*)::int FROM rm_note_seen) AS n FROM projection_checkpoints WHERE name = 'note_totals'",
      [],
    );
    expect(row).toEqual({ lease_owner: null, n: 2_500 });
  });
});
