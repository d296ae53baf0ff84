// The handlers' claim reads only rows not yet handled, however many processed rows the outbox
// keeps (OUTBOX_RETENTION_DAYS). With outbox_due_idx on (next_retry_at, id) the claim's ORDER BY id
// could not come from it: each claim either sorted every due row or, as the planner chose once a
// backlog was due (it underestimates the due rows), walked outbox_pkey from the oldest row,
// filtering out every processed row (300,000 kept, 50,000 due: 60 ms a batch of 100 instead of 2). On a database of its own with processed rows laid down in bulk and analyzed, the
// claim drainOutbox runs is EXPLAINed as it is built.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "../db/client";
import type { Store } from "../eventStore";
import { openFreshPostgresDatabase, pgUrl } from "../testing/db";
import { storeOf } from "../testing/events";
import { addHandler, drainOutbox, type Bus } from "./outbox";

type Plan = { "Node Type": string; "Relation Name"?: string; "Index Name"?: string; Plans?: Plan[] };
const nodes = (plan: Plan): string[] => [plan["Node Type"], ...(plan.Plans ?? []).flatMap(nodes)];
const scans = (plan: Plan): Plan[] => [
  ...(plan["Relation Name"] === "outbox" && plan["Node Type"] !== "ModifyTable" ? [plan] : []),
  ...(plan.Plans ?? []).flatMap(scans),
];

const fixture = `
  INSERT INTO outbox (event_id, global_position, stream_id, event_type, correlation_id, occurred_at, created_at, next_retry_at, handled_at, processed_at)
  SELECT gen_random_uuid(), g, 'note-' || (g / 10), 'NoteAdded', 'c', now(), now() - interval '1 day', now() - interval '1 day', now() - interval '1 day', now() - interval '1 day'
    FROM generate_series(1, 300000) g;
  -- Handled rows waiting for the bus (the broker was down), then rows not yet handled (the workers were down too).
  INSERT INTO outbox (event_id, global_position, stream_id, event_type, correlation_id, occurred_at, next_retry_at, handled_at)
  SELECT gen_random_uuid(), 350000 + g, 'note-h' || (g / 10), 'NoteAdded', 'c', now(), now() - interval '1 minute', now() - interval '1 minute'
    FROM generate_series(1, 50000) g;
  INSERT INTO outbox (event_id, global_position, stream_id, event_type, correlation_id, occurred_at, next_retry_at)
  SELECT gen_random_uuid(), 400000 + g, 'note-b' || (g / 10), 'NoteAdded', 'c', now(), now() - interval '1 minute'
    FROM generate_series(1, 50000) g;
  ANALYZE outbox;`;

describe.skipIf(!pgUrl)("the handlers' claim on a large outbox [postgresql]", () => {
  let db: Database;
  let drop: () => Promise<void>;

  beforeAll(async () => {
    ({ db, drop } = await openFreshPostgresDatabase(2));
  }, 60_000);
  afterAll(async () => {
    await drop?.();
  });

  it("reads rows not yet handled from outbox_due_idx, never walking processed ones", async () => {
    await db.sql(fixture, []);
    const store = storeOf(db);
    const plans: Plan[] = [];
    const explaining: Store = {
      ...store,
      sql: async <T,>(text: string, params: readonly unknown[]) => {
        // A worker with a bus says so first (outbox_publishers): not the claim.
        if (text.includes("outbox_publishers")) return [] as T[];
        const [row] = await store.sql<{ "QUERY PLAN": [{ Plan: Plan }] }>(`EXPLAIN (FORMAT JSON) ${text}`, params);
        plans.push(row!["QUERY PLAN"][0].Plan);
        return [] as T[];
      },
    };
    const bus: Bus = { ready: async () => {}, publish: async () => {}, close: async () => {} };
    await drainOutbox({ store: explaining, handlers: addHandler(new Map(), "NoteAdded", async () => {}), bus }, { batchSize: 100, maxAttempts: 5, skipBus: true });
    expect(plans).toHaveLength(1);
    const claim = scans(plans[0]!).map((p) => `${p["Node Type"]} ${p["Index Name"] ?? ""}`.trim());
    // The CTE's scan picks the rows (outbox_due_idx); the UPDATE then finds them by id (outbox_pkey).
    expect(claim).toContain("Index Scan outbox_due_idx");
    expect(claim.filter((s) => s !== "Index Scan outbox_due_idx" && s !== "Index Scan outbox_pkey")).toEqual([]);
    expect(claim.filter((s) => s === "Index Scan outbox_pkey")).toHaveLength(1);
    // In id order from the index itself: no sort of every due row per claim either (the other plan
    // the old index allowed, as costly with a large backlog).
    expect(nodes(plans[0]!)).not.toContain("Sort");
  }, 60_000);
});
