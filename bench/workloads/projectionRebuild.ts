// 6. Rebuild of the clinical read models (rm_patients, rm_encounters, rm_orders) from a log of
// 1,000,000 events (--quick: 100,000), laid down in bulk with generate_series as consistent
// streams: per visit a registration and two demographic edits, an encounter started and
// completed, two orders moved through their statuses (10 events); each visit's later half
// lands 2,000 events after its first, so streams span batches as they do in a real log.
// ours: startRebuilds + runRebuilds of the three projections together (what
// `npm run projections:rebuild -- patients encounters orders` runs: one reading of the log in
// commit order for the three, each projection's replay into its shadow, each swapped in on its
// own), while one writer keeps registering patients through patient.register (inline rm_patients).
// raw: the same three tables built by hand-written SQL (INSERT ... SELECT over the log, one
// statement per table) in the same run. Reported: events/s, the swap's writer pause, and the
// writer's latency before and during the rebuild.
import pg from "pg";
import { storeFor } from "../../server/api/context";
import { callerFor, newPatient } from "../../server/testing/caller";
import { runRebuilds, startRebuilds } from "../../server/projections/rebuild";
import { inlineProjections } from "../../server/projections/registry";
import { installStockParsers } from "../lib/pgTypes";
import { percentile, timed } from "../lib/stats";
import type { Figure, Workload } from "../lib/types";

const uuid = (expr: string) => `overlay(overlay(md5(${expr}) placing '4' from 13) placing '8' from 17)::uuid`;
const iso = (expr: string) => `to_char((${expr}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
export const LATER = 200;

/**
 * Sort keys [from, to]: key s is event s % 10 of visit s / 10 (its later half shifted by LATER visits).
 * The event's kind is picked first and only its stream and payload are built (a VALUES list of all
 * ten, filtered, built ten payloads per event: three quarters of the lay-down's time, as row 8 found).
 */
export function fixtureSql(visits: number, from: number, to: number): string {
  const at = `(timestamptz '2025-01-01 00:00Z' + (s * interval '7 seconds'))`;
  const patient = uuid(`'p' || u`);
  const encounter = uuid(`'e' || u`);
  const orderA = uuid(`'a' || u`);
  const orderB = uuid(`'b' || u`);
  return `
    INSERT INTO events (event_id, stream_id, aggregate_type, event_type, version, event_version, data, metadata,
                        occurred_at, recorded_at, user_id, correlation_id, causation_id)
    SELECT ${uuid(`'ev' || s`)}, t.stream, t.aggregate, t.type, t.v, t.schema_version, t.data, '{}'::jsonb, ${at}, ${at},
           'bench-user-' || (u % 200), 'bench-corr-' || s, 'command:bench-' || s
      FROM generate_series(${from}, ${to}) AS s
      CROSS JOIN LATERAL (SELECT s % 10 AS k, CASE WHEN s % 10 < 5 THEN s / 10 ELSE s / 10 - ${LATER} END AS u) AS vu
      CROSS JOIN LATERAL (
        SELECT (ARRAY['patient', 'encounter', 'order', 'order', 'order', 'patient', 'order', 'order', 'encounter', 'patient'])[k + 1] AS aggregate,
               (ARRAY['PatientRegistered', 'EncounterStarted', 'OrderCreated', 'OrderCreated', 'OrderStatusChanged',
                      'PatientDemographicsUpdated', 'OrderStatusChanged', 'OrderStatusChanged', 'EncounterCompleted',
                      'PatientDemographicsUpdated'])[k + 1] AS type,
               (ARRAY[1, 1, 1, 1, 2, 2, 3, 2, 2, 3])[k + 1] AS v,
               CASE k WHEN 0 THEN 2 ELSE 1 END AS schema_version,
               CASE WHEN k IN (0, 5, 9) THEN 'patient-' || ${patient}
                    WHEN k IN (1, 8) THEN 'encounter-' || ${encounter}
                    WHEN k IN (2, 4, 6) THEN 'order-' || ${orderA}
                    ELSE 'order-' || ${orderB} END AS stream,
               CASE k
                 WHEN 0 THEN jsonb_build_object(
                   'patientId', ${patient}, 'mrn', 'B' || lpad(u::text, 9, '0'), 'givenName', 'Olivia',
                   'familyName', 'Smith' || (u % 97), 'dateOfBirth', '1980-02-03', 'sex', 'female',
                   'email', 'olivia.smith' || (u % 97) || '@example.test', 'phone', '+1 555 0100',
                   'address', jsonb_build_object('line1', '12 Maple Ave', 'city', 'Springfield', 'region', 'IL', 'postalCode', '62701', 'country', 'US'))
                 WHEN 1 THEN jsonb_build_object(
                   'encounterId', ${encounter}, 'patientId', ${patient}, 'providerId', 'bench-user-' || (u % 200),
                   'encounterType', 'outpatient', 'startedAt', ${iso(at)}, 'reason', 'Follow-up visit')
                 WHEN 2 THEN jsonb_build_object(
                   'orderId', ${orderA}, 'patientId', ${patient}, 'encounterId', ${encounter}, 'providerId', 'bench-user-' || (u % 200),
                   'kind', 'lab', 'details', jsonb_build_object('code', '2345-7', 'description', 'Glucose, serum'),
                   'priority', 'stat', 'scheduledFor', null)
                 WHEN 3 THEN jsonb_build_object(
                   'orderId', ${orderB}, 'patientId', ${patient}, 'encounterId', null, 'providerId', 'bench-user-' || (u % 200),
                   'kind', 'imaging', 'details', jsonb_build_object('description', 'Chest X-ray'),
                   'priority', 'routine', 'scheduledFor', null)
                 WHEN 4 THEN jsonb_build_object(
                   'orderId', ${orderA}, 'previousStatus', 'placed', 'newStatus', 'in_progress', 'reason', null,
                   'resultData', null, 'changedAt', ${iso(at)})
                 WHEN 5 THEN jsonb_build_object(
                   'patientId', ${patient}, 'changes', jsonb_build_object('phone', '+1 555 0101'),
                   'previous', jsonb_build_object('phone', '+1 555 0100'), 'reason', 'Patient update at front desk')
                 WHEN 6 THEN jsonb_build_object(
                   'orderId', ${orderA}, 'previousStatus', 'in_progress', 'newStatus', 'completed', 'reason', null,
                   'resultData', jsonb_build_object('value', 5.4, 'unit', 'mmol/L'), 'changedAt', ${iso(at)})
                 WHEN 7 THEN jsonb_build_object(
                   'orderId', ${orderB}, 'previousStatus', 'placed', 'newStatus', 'cancelled', 'reason', 'Duplicate order',
                   'resultData', null, 'changedAt', ${iso(at)})
                 WHEN 8 THEN jsonb_build_object(
                   'encounterId', ${encounter}, 'endedAt', ${iso(at)}, 'outcome', 'Stable, plan discussed',
                   'dischargeDisposition', 'home', 'durationMinutes', 35)
                 ELSE jsonb_build_object(
                   'patientId', ${patient}, 'changes', jsonb_build_object('email', 'o.smith' || (u % 97) || '@example.test'),
                   'previous', jsonb_build_object('email', 'olivia.smith' || (u % 97) || '@example.test'), 'reason', 'Corrected')
               END AS data
      ) AS t
     WHERE vu.u >= 0 AND vu.u < ${visits}`;
}

/** The three tables as hand-written SQL: the latest value of every field, folded by the database itself. */
export const rawSql = [
  `CREATE TABLE sql_patients (LIKE rm_patients INCLUDING ALL)`,
  `INSERT INTO sql_patients (patient_id, mrn, given_name, family_name, date_of_birth, sex, email, phone, address, active, sort_key, version, registered_at, updated_at)
   WITH changes AS (
     SELECT DISTINCT ON (stream_id, key) stream_id, key, value FROM events, jsonb_each(data->'changes')
      WHERE event_type = 'PatientDemographicsUpdated' ORDER BY stream_id, key, version DESC
   ), merged AS (SELECT stream_id, jsonb_object_agg(key, value) AS c FROM changes GROUP BY stream_id),
   last AS (SELECT stream_id, max(version) AS v, max(occurred_at) AS at FROM events WHERE aggregate_type = 'patient' GROUP BY stream_id)
   SELECT (d->>'patientId')::uuid, d->>'mrn', d->>'givenName', d->>'familyName', (d->>'dateOfBirth')::date, d->>'sex', d->>'email', d->>'phone',
          d->'address', true, lower(d->>'familyName' || ' ' || (d->>'givenName')), l.v, r.occurred_at, l.at
     FROM events r JOIN last l USING (stream_id) LEFT JOIN merged m USING (stream_id)
     CROSS JOIN LATERAL (SELECT r.data || coalesce(m.c, '{}'::jsonb) AS d) x
    -- The writer's registrations go through the app, which seals their PHI: SQL cannot read
    -- them (the row counts compare the bulk-laid patients, MRN 'B...', alone).
    WHERE r.event_type = 'PatientRegistered' AND NOT r.data ? '$phi'`,
  `CREATE TABLE sql_encounters (LIKE rm_encounters INCLUDING ALL)`,
  `INSERT INTO sql_encounters (encounter_id, patient_id, provider_id, encounter_type, status, reason, started_at, ended_at, outcome, discharge_disposition, duration_minutes, version, updated_at)
   SELECT (s.data->>'encounterId')::uuid, (s.data->>'patientId')::uuid, s.data->>'providerId', s.data->>'encounterType',
          CASE WHEN c.data IS NULL THEN 'in_progress' ELSE 'completed' END, s.data->>'reason', (s.data->>'startedAt')::timestamptz,
          (c.data->>'endedAt')::timestamptz, c.data->>'outcome', c.data->>'dischargeDisposition', (c.data->>'durationMinutes')::int,
          coalesce(c.version, s.version), coalesce(c.occurred_at, s.occurred_at)
     FROM events s LEFT JOIN events c ON c.stream_id = s.stream_id AND c.event_type = 'EncounterCompleted'
    WHERE s.event_type = 'EncounterStarted'`,
  `CREATE TABLE sql_orders (LIKE rm_orders INCLUDING ALL)`,
  `INSERT INTO sql_orders (order_id, patient_id, encounter_id, provider_id, kind, description, details, priority, priority_rank, status, status_reason, result_data, scheduled_for, created_at, status_changed_at, version)
   WITH last AS (
     SELECT DISTINCT ON (stream_id) stream_id, data, version, occurred_at FROM events
      WHERE event_type = 'OrderStatusChanged' ORDER BY stream_id, version DESC
   )
   SELECT (o.data->>'orderId')::uuid, (o.data->>'patientId')::uuid, (o.data->>'encounterId')::uuid, o.data->>'providerId', o.data->>'kind',
          o.data->'details'->>'description', o.data->'details', o.data->>'priority',
          CASE o.data->>'priority' WHEN 'stat' THEN 0 WHEN 'urgent' THEN 1 ELSE 2 END,
          coalesce(l.data->>'newStatus', 'placed'), l.data->>'reason', l.data->'resultData', (o.data->>'scheduledFor')::timestamptz,
          o.occurred_at, coalesce((l.data->>'changedAt')::timestamptz, o.occurred_at), coalesce(l.version, o.version)
     FROM events o LEFT JOIN last l USING (stream_id)
    WHERE o.event_type = 'OrderCreated'`,
];

export const projectionRebuild: Workload = {
  number: 6,
  id: "projection-rebuild",
  title: "rebuild of the clinical read models",
  async run(ctx) {
    const total = ctx.mode === "full" ? 1_000_000 : ctx.mode === "quick" ? 100_000 : 5_000;
    const visits = total / 10;
    const pool = new pg.Pool({ connectionString: ctx.oursUrl, max: 2 });
    // The clean-up's DROP DATABASE ... WITH (FORCE) can reach a connection still closing after
    // pool.end(): its FATAL must not crash the run (it did once, after the row had finished).
    pool.on("error", () => {});
    const db = ctx.oursDatabase;
    try {
      installStockParsers();
      const keys = (visits + LATER) * 10;
      const chunk = 100_000;
      for (let from = 0; from < keys; from += chunk) {
        const to = Math.min(keys - 1, from + chunk - 1);
        ctx.progress.step(`6 projection rebuild: laying down the log · ${Math.min(to + 1, keys).toLocaleString("en-US")} / ${keys.toLocaleString("en-US")} sort keys`);
        await pool.query(fixtureSql(visits, from, to));
      }
      // VACUUM too, not only ANALYZE: a million rows inserted at once is work autovacuum would
      // otherwise do later, in this database, during the rows measured after this one (row 9's
      // server uses it). A live table is vacuumed as it grows; the fixture arrives all at once.
      ctx.progress.step("6 projection rebuild: VACUUM ANALYZE events");
      await pool.query("VACUUM (ANALYZE) events");
      const [{ n: logged }] = (await pool.query("SELECT count(*)::int AS n FROM events WHERE aggregate_type IN ('patient', 'encounter', 'order')")).rows as [{ n: number }];

      // The writer's latency with nothing else running...
      const api = callerFor(db, ["clinician"]);
      const idle: number[] = [];
      for (let i = 0; i < (ctx.mode === "smoke" ? 10 : 200); i++) idle.push(await timed(() => api.patient.register(newPatient())));

      // ...and during ours' rebuild of all three.
      ctx.contenders.ours.enter();
      const during: number[] = [];
      let writing = true;
      const writer = (async () => {
        while (writing) during.push(await timed(() => api.patient.register(newPatient())));
      })();
      const store = storeFor(db);
      const pauses: number[] = [];
      let replayed = 0;
      const t0 = performance.now();
      let oursSeconds = 0;
      try {
        const started = await startRebuilds(store, inlineProjections.map((p) => p.name), { reason: "bench", userId: "bench", correlationId: "bench-rebuild" });
        const results = await runRebuilds(store, started, {
          onProgress: (p) => ctx.progress.step(`6 projection rebuild · ours · ${p.name} ${p.done.toLocaleString("en-US")} / ${p.total.toLocaleString("en-US")} ${p.phase}`),
        });
        for (const [i, result] of results.entries()) {
          if (result.status !== "finished") throw new Error(`rebuild of ${started[i]!.projection.name} ${result.status}: ${result.error}`);
          pauses.push(result.swapPauseMs ?? 0);
          replayed += result.eventsDone;
        }
        oursSeconds = (performance.now() - t0) / 1000;
      } finally {
        // Also when a rebuild fails: a writer left running outlives the database it writes to.
        writing = false;
        await writer;
      }

      ctx.contenders.raw.enter();
      ctx.progress.step("6 projection rebuild · raw SQL");
      const t1 = performance.now();
      for (const statement of rawSql) await pool.query(statement);
      const rawSeconds = (performance.now() - t1) / 1000;
      const counts = (await pool.query(
        `SELECT (SELECT count(*) FROM sql_patients WHERE mrn LIKE 'B%')::int + (SELECT count(*) FROM sql_encounters)::int + (SELECT count(*) FROM sql_orders)::int AS sql_rows,
                (SELECT count(*) FROM rm_patients WHERE mrn LIKE 'B%')::int + (SELECT count(*) FROM rm_encounters)::int + (SELECT count(*) FROM rm_orders)::int AS our_rows`,
      )).rows[0] as { sql_rows: number; our_rows: number };
      for (const t of ["sql_patients", "sql_encounters", "sql_orders"]) await pool.query(`DROP TABLE ${t}`);
      installStockParsers();

      const ours = replayed / oursSeconds;
      const raw = logged / rawSeconds;
      const maxPause = Math.max(...pauses);
      const rowsNote = counts.sql_rows === counts.our_rows ? `both built ${counts.our_rows.toLocaleString("en-US")} rows` : `ROW COUNTS DIFFER: ours ${counts.our_rows}, SQL ${counts.sql_rows}`;
      const figures: Figure[] = [
        {
          workload: "6. rebuild of the clinical read models",
          metric: "events/s",
          unit: "events/s",
          ours,
          raw,
          peer: null,
          target: ">= 50,000 events/s and >= 40% of the SQL rebuild",
          better: "higher",
          check: ({ ours: o, raw: r }) => o >= 50_000 && r !== null && o >= 0.4 * r,
          note: `${logged.toLocaleString("en-US")} clinical events laid down in bulk (streams spanning batches); ours = the rebuild of patients, encounters and orders together (one commit-order reading of the log, each model's replay into its shadow, swap) in ${oursSeconds.toFixed(1)} s while one writer registered patients; raw = the same three tables by hand-written INSERT ... SELECT over the log in ${rawSeconds.toFixed(1)} s; ${rowsNote}`,
        },
        {
          workload: "6. rebuild of the clinical read models",
          metric: "swap writer pause, worst of 3 (ms)",
          unit: "ms",
          ours: maxPause,
          raw: null,
          peer: null,
          target: "< 100 ms",
          better: "lower",
          check: ({ ours: o }) => o < 100,
          note: `pauses: ${inlineProjections.map((p, i) => `${p.name} ${pauses[i]!.toFixed(1)} ms`).join(", ")} (LOCK issued to swap done)`,
        },
        {
          workload: "6. rebuild of the clinical read models",
          metric: "patient.register latency p50 during the rebuild (ms)",
          unit: "ms",
          ours: percentile(during, 50),
          raw: percentile(idle, 50),
          peer: null,
          target: null,
          better: "lower",
          note: `raw column = the same writer with nothing else running; p99 idle ${percentile(idle, 99).toFixed(1)} ms, during ${percentile(during, 99).toFixed(1)} ms; ${during.length} registrations during the rebuild`,
        },
      ];
      return figures;
    } finally {
      await pool.end();
    }
  },
};
