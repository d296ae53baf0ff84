// Every audit filter is served by an index of `events`, so the indexes an append pays for can
// be trimmed (prisma/migrations/20261129040000_append_one_stream_write) without a filter falling
// back to reading the whole log. On a database of its own with 200,000 events laid down in bulk
// and analyzed, each query the audit console and the log readers run is EXPLAINed as it is
// built (the store's sql is swapped for EXPLAIN), and no plan may scan `events` sequentially.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import type { Database } from "../db/client";
import type { Store } from "../eventStore";
import { readAll, readByCausation, readByCorrelationId, readByType, readStream, readStreamByOccurrence, versionRecordedBy } from "../eventStore/read";
import { openFreshPostgresDatabase, pgUrl } from "../testing/db";
import { storeOf } from "../testing/events";
import { cursorProbeSql, searchEvents, type EventSearch } from "./audit";

const total = 200_000;
const uuid = (expr: string) => `overlay(overlay(md5(${expr}) placing '4' from 13) placing '8' from 17)::uuid`;

// Skewed like a clinical log: many status changes, few registrations, a rare aggregate type
// (user); one request (correlation id) per 3 events; one event in 50 caused by another event,
// the rest by their command ("command:<id>"); 200 users; two years of history.
const fixture = `
  INSERT INTO events (event_id, stream_id, aggregate_type, event_type, version, data, occurred_at, recorded_at,
                      user_id, correlation_id, causation_id)
  SELECT ${uuid("'e' || i")}, t.aggregate || '-' || (i / 4), t.aggregate, t.type, 1 + (i % 4), '{}'::jsonb,
         timestamptz '2024-11-27 00:00Z' + i * interval '315 seconds', timestamptz '2024-11-27 00:00Z' + i * interval '315 seconds',
         'user-' || (i % 200), 'corr-' || (i / 3),
         CASE WHEN i % 50 = 1 THEN (${uuid("'e' || (i - 1)")})::text ELSE 'command:' || (i / 3) END
    FROM generate_series(1, ${total}) AS i
    CROSS JOIN LATERAL (
      SELECT * FROM (VALUES (0, 'patient', 'PatientRegistered'), (1, 'patient', 'PatientDemographicsUpdated'),
                            (2, 'encounter', 'EncounterStarted'), (3, 'order', 'OrderStatusChanged'), (4, 'user', 'UserRolesChanged')) AS v(k, aggregate, type)
       WHERE v.k = CASE WHEN i % 1000 = 0 THEN 4 ELSE (ARRAY[3, 3, 3, 1, 2, 3, 1, 3, 2, 3, 1, 3, 2, 3, 1, 0])[1 + (i % 16)] END
    ) AS t`;

type Plan = { "Node Type": string; "Relation Name"?: string; "Index Name"?: string; "Index Cond"?: string; "Recheck Cond"?: string; Plans?: Plan[] };

const seqScansOnEvents = (plan: Plan): number =>
  (plan["Node Type"] === "Seq Scan" && plan["Relation Name"] === "events" ? 1 : 0) +
  (plan.Plans ?? []).reduce((n, p) => n + seqScansOnEvents(p), 0);

const indexesUsed = (plan: Plan): string[] => [...(plan["Index Name"] ? [plan["Index Name"]] : []), ...(plan.Plans ?? []).flatMap(indexesUsed)];

/** The conditions indexes answered in a plan: which columns an index actually narrowed. */
const indexConditions = (plan: Plan): string[] => [
  ...[plan["Index Cond"], plan["Recheck Cond"]].filter((c): c is string => !!c),
  ...(plan.Plans ?? []).flatMap(indexConditions),
];

describe.skipIf(!pgUrl)("audit filters use indexes on a large log [postgresql]", () => {
  let db: Database;
  let drop: () => Promise<void>;
  const plans: { sql: string; plan: Plan }[] = [];
  /** Every index of events some plan below used: each must be (the last test). */
  const used = new Set<string>();
  let explaining: Store;
  let ownerUrl: string;

  beforeAll(async () => {
    ({ db, drop, ownerUrl } = await openFreshPostgresDatabase(2));
    const owner = new pg.Client({ connectionString: ownerUrl });
    await owner.connect();
    try {
      await owner.query(fixture);
      await owner.query("ANALYZE events");
    } finally {
      await owner.end();
    }
    const store = storeOf(db);
    // The store every query goes through, answering each statement with its plan instead.
    explaining = {
      ...store,
      sql: async <T,>(text: string, params: readonly unknown[]) => {
        // Whether a page cursor names an event (a primary-key look-up after an empty time-sorted
        // page): answered for real from the fixture, or every such page would be refused.
        if (text === cursorProbeSql) return store.sql<T>(text, params);
        const [row] = await store.sql<{ "QUERY PLAN": [{ Plan: Plan }] }>(`EXPLAIN (FORMAT JSON) ${text}`, params);
        const plan = row!["QUERY PLAN"][0].Plan;
        plans.push({ sql: text, plan });
        for (const name of indexesUsed(plan)) used.add(name);
        return [] as T[];
      },
    };
  }, 180_000);

  afterAll(async () => {
    await drop?.();
  });

  const planOf = async (run: (store: Store) => Promise<unknown>) => {
    plans.length = 0;
    await run(explaining);
    expect(plans.length).toBeGreaterThan(0);
    return plans.map((p) => ({
      sql: p.sql.replace(/\s+/g, " ").slice(0, 200),
      seqScans: seqScansOnEvents(p.plan),
      narrowedBy: indexConditions(p.plan).join(" | "),
    }));
  };

  const month = { from: new Date(Date.UTC(2025, 5, 1)), to: new Date(Date.UTC(2025, 6, 1)) };
  // With the column an index must narrow on where the filter is selective (a common type or
  // aggregate may be served by walking the primary key backwards: a page is found at once).
  const filters: [string, Omit<EventSearch, "limit">, string | null][] = [
    ["no filter", {}, null],
    ["a common type", { eventTypes: ["OrderStatusChanged"] }, null],
    ["a rare type", { eventTypes: ["UserRolesChanged"] }, "event_type"],
    ["two types", { eventTypes: ["PatientRegistered", "EncounterStarted"] }, null],
    ["one user", { userId: "user-17" }, "user_id"],
    ["one request (correlation id)", { correlationId: "corr-4242" }, "correlation_id"],
    ["a common aggregate type", { aggregateType: "order" }, null],
    // No index of its own: the range of stream ids the type names (stream ids start with it).
    ["a rare aggregate type", { aggregateType: "user" }, "stream_id ~>=~"],
    ["a rare aggregate type, next page", { aggregateType: "user", before: 150_000 }, "stream_id ~>=~"],
    ["a rare aggregate type and a user", { aggregateType: "user", userId: "user-0" }, "stream_id ~>=~|user_id"],
    ["one stream", { streamId: "patient-1000" }, "stream_id"],
    ["a month, recorded", { recordedFrom: month.from, recordedTo: month.to }, "recorded_at"],
    ["a month, occurred", { occurredFrom: month.from, occurredTo: month.to }, "occurred_at"],
    ["a type and a user", { eventTypes: ["EncounterStarted"], userId: "user-42" }, "user_id|event_type"],
    ["a user, next page", { userId: "user-17", before: 150_000 }, "user_id"],
    ["a month recorded, next page", { recordedFrom: month.from, recordedTo: month.to, before: 80_000 }, "recorded_at"],
    ["a month occurred, next page", { occurredFrom: month.from, occurredTo: month.to, before: 80_000 }, "occurred_at"],
    ["a rare type, next page", { eventTypes: ["UserRolesChanged"], before: 150_000 }, "event_type"],
  ];

  for (const [label, search, column] of filters) {
    it(`searchEvents, ${label}`, async () => {
      const result = await planOf((store) => searchEvents(store, { ...search, limit: 50 }));
      expect(result.filter((r) => r.seqScans > 0)).toEqual([]);
      if (column) for (const r of result) expect(r.narrowedBy).toMatch(new RegExp(column));
    });
  }

  it("readByCausation (what an event caused) uses the partial index of event causes", async () => {
    plans.length = 0;
    await readByCausation(explaining, "00000000-0000-4000-8000-000000000001");
    const text = JSON.stringify(plans.map((p) => p.plan));
    expect(text).toContain("events_caused_by_event_idx");
    expect(plans.map((p) => seqScansOnEvents(p.plan))).toEqual([0]);
  });

  it("readByCorrelationId, readStream and readAll (commit order, by type) use indexes", async () => {
    for (const run of [
      (s: Store) => readByCorrelationId(s, "corr-4242"),
      (s: Store) => readStream(s, "order-1000"),
      (s: Store) => readAll(s, { limit: 1000 }),
      (s: Store) => readAll(s, { after: { transactionId: "1", globalPosition: 100_000 }, limit: 1000, eventTypes: ["PatientRegistered"] }),
    ]) {
      const result = await planOf(run);
      expect(result.filter((r) => r.seqScans > 0)).toEqual([]);
    }
  });

  it("time travel reads a stream in clinical order from the stream/occurred index, and by version from the key", async () => {
    for (const [run, index] of [
      [(s: Store) => readStreamByOccurrence(s, "patient-1000", { occurredBy: new Date(), maxCount: 100 }), "events_stream_occurred_idx"],
      [(s: Store) => readStreamByOccurrence(s, "patient-1000", { occurredBy: new Date(), afterVersion: 2, maxCount: 100 }), "events_stream_occurred_idx"],
      [(s: Store) => versionRecordedBy(s, "patient-1000", new Date()), "events_stream_version_key"],
      [(s: Store) => readByType(s, "UserRolesChanged", { afterPosition: 100_000, limit: 100 }), "events_event_type_idx"],
    ] as const) {
      plans.length = 0;
      await run(explaining);
      expect(plans.map((p) => seqScansOnEvents(p.plan))).toEqual(plans.map(() => 0));
      expect(JSON.stringify(plans.map((p) => p.plan))).toContain(index);
    }
  });

  it("a stream id that does not start with its aggregate type is refused by the table", async () => {
    const owner = new pg.Client({ connectionString: ownerUrl });
    await owner.connect();
    try {
      await expect(
        owner.query(
          `INSERT INTO events (event_id, stream_id, aggregate_type, event_type, version, data, occurred_at, user_id, correlation_id)
           VALUES (gen_random_uuid(), 'patient-x', 'user', 'UserRolesChanged', 1, '{}', now(), 'u', 'c')`,
        ),
      ).rejects.toMatchObject({ code: "23514" });
    } finally {
      await owner.end();
    }
  });

  // Last: every index an append maintains is one some query above needs (a new index needs a
  // query here that uses it; a dropped one fails the query that needed it above).
  it("every index of events serves one of the queries above", async () => {
    const [row] = await storeOf(db).sql<{ names: string[] }>(
      "SELECT array_agg(indexrelid::regclass::text ORDER BY indexrelid::regclass::text) AS names FROM pg_index WHERE indrelid = 'events'::regclass",
      [],
    );
    expect(row!.names.filter((name) => !used.has(name))).toEqual([]);
    expect(row!.names).not.toContain("events_aggregate_type_idx");
  });
});
