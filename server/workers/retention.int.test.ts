// Outbox retention deletes only processed rows past the period; pending and dead rows stay.
import { expect, it } from "vitest";
import { appendToStream } from "../eventStore";
import { describeEachDatabase } from "../testing/db";
import { newStreamId, note, storeOf } from "../testing/events";
import { runOutboxLoop } from "./loop";
import { pruneOutbox, RETENTION_ROUND_ROWS } from "./retention";

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

  it("the worker's loop keeps pruning pass after pass while a round finds as many as it deletes", { timeout: 60_000 }, async () => {
    // More past the period than one round deletes (10,000): before, the rest waited a minute a
    // round, so above about 170 appended events a second the table only grew.
    const rows = RETENTION_ROUND_ROWS * 2 + 500;
    await db().sql(
      `INSERT INTO outbox (event_id, global_position, stream_id, event_type, correlation_id, occurred_at, created_at, handled_at, processed_at)
       SELECT gen_random_uuid(), -n, 'retention-' || n, 'NoteAdded', 'retention', now() - interval '9500 days', now() - interval '9500 days',
              now() - interval '9500 days', now() - interval '9000 days'
         FROM generate_series(1, $1::integer) AS n`,
      [rows],
    );
    const old = async () => (await db().sql<{ n: number }>("SELECT count(*)::int AS n FROM outbox WHERE correlation_id = 'retention'", []))[0]!.n;
    expect(await old()).toBe(rows);
    const stop = new AbortController();
    const loop = runOutboxLoop({ store: storeOf(db()), handlers: new Map() }, { batchSize: 50, maxAttempts: 5, pollMs: 50, signal: stop.signal, retentionDays: 8000 });
    try {
      // Three rounds, on three passes a few milliseconds apart, not three minutes.
      for (const deadline = Date.now() + 30_000; (await old()) > 0 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 100));
      expect(await old()).toBe(0);
    } finally {
      stop.abort();
      await loop;
    }
  });
});
