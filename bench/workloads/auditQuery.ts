// 8. The audit event browser: one page of 50, newest first, with a filter, on a log of
// 1,000,000 events (--quick: 100,000). The log is laid down in bulk with generate_series
// (valid clinical payloads, realistic skew: many status changes, few registrations; 200 users;
// two years of history), not through appends: this row measures the query, and appending a
// million events one batch at a time would take the whole run's budget.
// ours: searchEvents (server/projections/audit.ts, what audit.events runs: the query, the
// driver, decode and validation of every event). raw: the same page as one minimal pg query,
// rows as the driver returns them. peer: Emmett has no such query.
import pg from "pg";
import { eventRegistry } from "../../server/domain/registry";
import { storeOn, type Store } from "../../server/eventStore";
import { searchEvents, type EventSearch } from "../../server/projections/audit";
import { installStockParsers } from "../lib/pgTypes";
import { percentile, timed } from "../lib/stats";
import type { BenchContext, Figure, Workload } from "../lib/types";

const uuid = (expr: string) => `overlay(overlay(md5(${expr}) placing '4' from 13) placing '8' from 17)::uuid`;
const iso = (expr: string) => `to_char((${expr}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/**
 * Event i of the fixture: type by a skewed cycle, times spread over two years, ~300-450 B payloads.
 * The type is picked first and only its payload is built (a VALUES list of all six, filtered,
 * built six payloads per event: the 10,000,000-event lay-down of row 12 spent most of its time there).
 */
export function fixtureSql(from: number, to: number): string {
  const at = `(timestamptz '2024-11-27 00:00Z' + (i * interval '63 seconds'))`;
  const patient = uuid(`'p' || (i % 50000)`);
  const subject = uuid(`'s' || (i / 4)`);
  return `
    INSERT INTO events (event_id, stream_id, aggregate_type, event_type, version, event_version, data, metadata,
                        occurred_at, recorded_at, user_id, correlation_id, causation_id)
    SELECT ${uuid(`'e' || i`)}, t.aggregate || '-' || ${subject}::text, t.aggregate, t.type, 1 + (i % 4),
           t.schema_version, t.data, '{}'::jsonb, ${at}, ${at}, 'bench-user-' || (i % 200),
           'bench-corr-' || (i / 3), 'command:bench-' || (i / 3)
      FROM generate_series(${from}, ${to}) AS i
      -- Skew: status changes and updates are common, registrations rare.
      CROSS JOIN LATERAL (SELECT (ARRAY[5, 5, 5, 1, 4, 4, 2, 3, 1, 5, 4, 2, 3, 5, 1, 0])[1 + (i % 16)] AS k OFFSET 0) AS kk
      CROSS JOIN LATERAL (
        SELECT (ARRAY['patient', 'patient', 'encounter', 'encounter', 'order', 'order'])[k + 1] AS aggregate,
               (ARRAY['PatientRegistered', 'PatientDemographicsUpdated', 'EncounterStarted', 'EncounterCompleted', 'OrderCreated', 'OrderStatusChanged'])[k + 1] AS type,
               CASE k WHEN 0 THEN 2 ELSE 1 END AS schema_version,
               CASE k
                 WHEN 0 THEN jsonb_build_object(
                   'patientId', ${patient}, 'mrn', 'MRN' || lpad((i % 900000)::text, 6, '0'), 'givenName', 'Olivia',
                   'familyName', 'Smith' || (i % 97), 'dateOfBirth', '1980-02-03', 'sex', 'female',
                   'email', 'olivia.smith' || (i % 97) || '@example.test', 'phone', '+1 555 0100',
                   'address', jsonb_build_object('line1', '12 Maple Ave', 'city', 'Springfield', 'region', 'IL', 'postalCode', '62701', 'country', 'US'))
                 WHEN 1 THEN jsonb_build_object(
                   'patientId', ${patient}, 'changes', jsonb_build_object('phone', '+1 555 0101'),
                   'previous', jsonb_build_object('phone', '+1 555 0100'), 'reason', 'Patient update at front desk')
                 WHEN 2 THEN jsonb_build_object(
                   'encounterId', ${subject}, 'patientId', ${patient}, 'providerId', 'bench-user-' || (i % 200),
                   'encounterType', 'outpatient', 'startedAt', ${iso(at)}, 'reason', 'Follow-up visit')
                 WHEN 3 THEN jsonb_build_object(
                   'encounterId', ${subject}, 'endedAt', ${iso(at)}, 'outcome', 'Stable, plan discussed',
                   'dischargeDisposition', 'home', 'durationMinutes', 35)
                 WHEN 4 THEN jsonb_build_object(
                   'orderId', ${subject}, 'patientId', ${patient}, 'encounterId', null, 'providerId', 'bench-user-' || (i % 200),
                   'kind', 'lab', 'details', jsonb_build_object('code', '2345-7', 'description', 'Glucose, serum'),
                   'priority', 'routine', 'scheduledFor', null)
                 ELSE jsonb_build_object(
                   'orderId', ${subject}, 'previousStatus', 'placed', 'newStatus', 'in_progress', 'reason', null,
                   'resultData', null, 'changedAt', ${iso(at)})
               END AS data
      ) AS t`;
}

export type Query = { label: string; search: Omit<EventSearch, "limit">; raw: [string, unknown[]] };

export const page = 50;
const cols = "global_position, event_id, stream_id, aggregate_type, event_type, version, event_version, data, metadata, occurred_at, recorded_at, user_id, correlation_id, causation_id";

export function queries(total: number): Query[] {
  const month = { from: new Date(Date.UTC(2025, 5, 1)), to: new Date(Date.UTC(2025, 6, 1)) };
  const corr = `bench-corr-${Math.floor(total / 6)}`;
  return [
    { label: "no filter", search: {}, raw: [`SELECT ${cols} FROM events ORDER BY global_position DESC LIMIT ${page}`, []] },
    {
      label: "a common type",
      search: { eventTypes: ["OrderStatusChanged"] },
      raw: [`SELECT ${cols} FROM events WHERE event_type = $1 ORDER BY global_position DESC LIMIT ${page}`, ["OrderStatusChanged"]],
    },
    {
      label: "a rare type",
      search: { eventTypes: ["PatientRegistered"] },
      raw: [`SELECT ${cols} FROM events WHERE event_type = $1 ORDER BY global_position DESC LIMIT ${page}`, ["PatientRegistered"]],
    },
    {
      label: "one user",
      search: { userId: "bench-user-17" },
      raw: [`SELECT ${cols} FROM events WHERE user_id = $1 ORDER BY global_position DESC LIMIT ${page}`, ["bench-user-17"]],
    },
    {
      label: "one request (correlation id)",
      search: { correlationId: corr },
      raw: [`SELECT ${cols} FROM events WHERE correlation_id = $1 ORDER BY global_position DESC LIMIT ${page}`, [corr]],
    },
    {
      label: "one aggregate type",
      search: { aggregateType: "encounter" },
      raw: [`SELECT ${cols} FROM events WHERE aggregate_type = $1 ORDER BY global_position DESC LIMIT ${page}`, ["encounter"]],
    },
    {
      label: "a month, recorded",
      search: { recordedFrom: month.from, recordedTo: month.to },
      raw: [
        `SELECT ${cols} FROM events WHERE recorded_at >= $1 AND recorded_at < $2 ORDER BY recorded_at DESC, global_position DESC LIMIT ${page}`,
        [month.from, month.to],
      ],
    },
    {
      label: "a type and a user",
      search: { eventTypes: ["OrderCreated"], userId: "bench-user-42" },
      raw: [
        `SELECT ${cols} FROM events WHERE event_type = $1 AND user_id = $2 ORDER BY global_position DESC LIMIT ${page}`,
        ["OrderCreated", "bench-user-42"],
      ],
    },
  ];
}

/**
 * The filters' pages, `passes` times over, ours (searchEvents: audit.events' query, decode and
 * validation) and raw (the same page as one pg query) alternating who goes first, so neither
 * always meets the warmer cache. Latencies in ms.
 */
export async function auditSamples(ctx: BenchContext, store: Store, pool: pg.Pool, list: Query[], passes: number, label: string) {
  const samples = { ours: [] as number[], raw: [] as number[] };
  for (let pass = 0; pass < passes; pass++) {
    ctx.progress.step(`${label} · pass ${pass + 1}/${passes}`);
    for (const q of list) {
      const runOurs = async () => {
        ctx.contenders.ours.enter();
        samples.ours.push(await timed(() => searchEvents(store, { ...q.search, limit: page })));
      };
      const runRaw = async () => {
        ctx.contenders.raw.enter();
        samples.raw.push(await timed(() => pool.query(q.raw[0], q.raw[1])));
      };
      if (pass % 2 === 0) await runOurs().then(runRaw);
      else await runRaw().then(runOurs);
    }
  }
  installStockParsers();
  return samples;
}

export const auditQuery: Workload = {
  number: 8,
  id: "audit-query",
  title: "audit event browser: a page of 50 with a filter",
  async run(ctx) {
    const total = ctx.sizes.audit.logEvents;
    const chunk = 100_000;
    const pool = new pg.Pool({ connectionString: ctx.oursUrl, max: 2 });
    try {
      installStockParsers();
      for (let from = 1; from <= total; from += chunk) {
        const to = Math.min(total, from + chunk - 1);
        ctx.progress.step(`8 audit query: laying down the log · ${to.toLocaleString("en-US")} / ${total.toLocaleString("en-US")} events`);
        await pool.query(fixtureSql(from, to));
      }
      // VACUUM too, not only ANALYZE: a million rows inserted at once is work autovacuum would
      // otherwise do later, in this database, during the rows measured after this one (row 9's
      // server uses it). A live table is vacuumed as it grows; the fixture arrives all at once.
      ctx.progress.step("8 audit query: VACUUM ANALYZE events");
      await pool.query("VACUUM (ANALYZE) events");
      const store = storeOn(ctx.oursDatabase, eventRegistry);
      const list = queries(total);
      const samples = await auditSamples(ctx, store, pool, list, ctx.sizes.audit.passes, "8 audit query");
      const note = `${total.toLocaleString("en-US")} events laid down in bulk; ${list.length} filters (${list.map((q) => q.label).join(", ")}) × ${ctx.sizes.audit.passes} passes; ours = searchEvents (audit.events' query, decode and validation), raw = the same page as one pg query; Emmett has no such query`;
      const figures: Figure[] = [
        {
          workload: "8. audit event browser, page of 50 with a filter",
          metric: "latency p95",
          unit: "ms",
          ours: percentile(samples.ours, 95),
          raw: percentile(samples.raw, 95),
          peer: null,
          target: total >= 1_000_000 ? "< 50 ms on 1,000,000 events" : `< 50 ms (on ${total.toLocaleString("en-US")} events; the full run uses 1,000,000)`,
          better: "lower",
          check: ({ ours }) => ours < 50,
          note,
        },
        {
          workload: "8. audit event browser, page of 50 with a filter",
          metric: "latency p50",
          unit: "ms",
          ours: percentile(samples.ours, 50),
          raw: percentile(samples.raw, 50),
          peer: null,
          target: null,
          better: "lower",
        },
      ];
      return figures;
    } finally {
      await pool.end();
    }
  },
};
