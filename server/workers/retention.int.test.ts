// Outbox retention deletes only processed rows past the period; pending and dead rows stay.
import { expect, it } from "vitest";
import { appendToStream } from "../eventStore";
import { describeEachDatabase } from "../testing/db";
import { newStreamId, note, storeOf } from "../testing/events";
import { pruneOutbox } from "./retention";

describeEachDatabase("outbox retention", (db) => {
  it("deletes processed rows older than the period, in batches, and never a pending or dead one", async () => {
    const store = storeOf(db());
    const sql = db().sql;
    const events = Array.from({ length: 9 }, (_, i) => note(i));
    await appendToStream(store, newStreamId(), events, { expectedVersion: "no_stream", aggregateType: "note" });
    const ids = events.map((e) => e.eventId);
    const [oldDone, recentDone, oldPending, oldDead] = [ids.slice(0, 5), ids.slice(5, 6), ids.slice(6, 7), ids.slice(7, 9)];
    // Far in the past, so other tests' rows (processed now) are never past the period here.
    await sql(`UPDATE outbox SET processed_at = now() - interval '4000 days' WHERE event_id = ANY ($1::uuid[])`, [oldDone]);
    await sql(`UPDATE outbox SET processed_at = now() - interval '3000 days' WHERE event_id = ANY ($1::uuid[])`, [recentDone]);
    await sql(`UPDATE outbox SET created_at = now() - interval '5000 days', next_retry_at = now() + interval '1 day' WHERE event_id = ANY ($1::uuid[])`, [oldPending]);
    await sql(`UPDATE outbox SET created_at = now() - interval '5000 days', dead_lettered_at = now() - interval '4500 days', attempts = 5 WHERE event_id = ANY ($1::uuid[])`, [oldDead]);

    const deleted = await pruneOutbox(store, { retentionDays: 3500, batchSize: 2, maxBatches: 10 });
    expect(deleted).toBe(5);
    const left = await sql<{ event_id: string }>(`SELECT event_id::text AS event_id FROM outbox WHERE event_id = ANY ($1::uuid[])`, [ids]);
    expect(left.map((r) => r.event_id).sort()).toEqual([...recentDone, ...oldPending, ...oldDead].sort());
    // Nothing more to do: a second pass deletes nothing.
    expect(await pruneOutbox(store, { retentionDays: 3500, batchSize: 2 })).toBe(0);
    // The events themselves are never touched.
    const stored = await sql<{ n: number }>(`SELECT count(*)::int AS n FROM events WHERE event_id = ANY ($1::uuid[])`, [ids]);
    expect(stored[0]?.n).toBe(9);
  });

  it("stops after maxBatches and leaves the rest for the next call", async () => {
    const store = storeOf(db());
    const sql = db().sql;
    const events = Array.from({ length: 6 }, (_, i) => note(i));
    await appendToStream(store, newStreamId(), events, { expectedVersion: "no_stream", aggregateType: "note" });
    await sql(`UPDATE outbox SET processed_at = now() - interval '9000 days' WHERE event_id = ANY ($1::uuid[])`, [events.map((e) => e.eventId)]);
    expect(await pruneOutbox(store, { retentionDays: 8000, batchSize: 2, maxBatches: 2 })).toBe(4);
    expect(await pruneOutbox(store, { retentionDays: 8000, batchSize: 2, maxBatches: 2 })).toBe(2);
  });
});
