// Metric history for the admin charts: every process upserts its per-minute totals into
// metric_rollups (process id + minute + metric), and the history query sums counters over
// processes and takes the largest sample of cluster-wide gauges. Rows outlive the process, so
// the charts survive restarts; rows older than two days are pruned.
import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import { prismaRunner, withBoundedLockWait, type Db } from "../eventStore";
import { componentLogger, errorFields } from "../log";
import { collectDatabaseGauges } from "./database";
import { markWritten, minuteOf, setInMinute, unwrittenMinutes } from "./minute";

/** This process in metric_rollups: host, pid and a random part (pids are reused after restarts). */
export const processId = `${hostname().slice(0, 40)}:${process.pid}:${randomBytes(3).toString("hex")}`;

export const HISTORY_KEEP_HOURS = 48;

/** How long a rollup write waits for a lock on metric_rollups before it gives up (and warns). */
export const ROLLUP_LOCK_WAIT_MS = 3_000;

/** Writes this process's unwritten minutes (the current one included, replaced on each flush). */
export async function flushRollups(db: Db, now = Date.now()): Promise<number> {
  const minutes = unwrittenMinutes(now);
  const rows = minutes.flatMap((m) =>
    [...m.cells].map(([metric, cell]) => ({ minute: new Date(m.minute).toISOString(), metric, value: cell.value, samples: cell.samples })),
  );
  if (rows.length > 0) {
    await withBoundedLockWait(db, ROLLUP_LOCK_WAIT_MS, (tx) =>
      prismaRunner(tx)(
        `INSERT INTO metric_rollups (minute, metric, process_id, value, samples)
         SELECT r.minute, r.metric, $2, r.value, r.samples
           FROM jsonb_to_recordset($1::jsonb) AS r(minute timestamptz, metric text, value float8, samples bigint)
         ON CONFLICT (minute, metric, process_id) DO UPDATE SET value = EXCLUDED.value, samples = EXCLUDED.samples`,
        [JSON.stringify(rows), processId],
      ),
    );
  }
  const finished = minutes.filter((m) => m.minute < minuteOf(now));
  const last = finished.at(-1);
  if (last) markWritten(last.minute);
  return rows.length;
}

/** Samples the cluster-wide gauges into this minute (charts take the largest over processes). */
export async function sampleDatabaseGauges(db: Db, at?: number): Promise<void> {
  const { store } = await collectDatabaseGauges(db);
  // Stamped when the figures arrived, not when they were asked for (the query may wait on a lock).
  const now = at ?? Date.now();
  setInMinute("store_events", store.events, now);
  setInMinute("store_bytes", store.bytes.events + store.bytes.snapshots + store.bytes.outbox, now);
  setInMinute("outbox_pending", store.outbox.pending, now);
  setInMinute("outbox_lag_seconds", store.outbox.oldestPendingSeconds, now);
}

export async function pruneRollups(db: Db): Promise<void> {
  await withBoundedLockWait(db, ROLLUP_LOCK_WAIT_MS, (tx) =>
    prismaRunner(tx)(`DELETE FROM metric_rollups WHERE minute < now() - $1::integer * interval '1 hour'`, [HISTORY_KEEP_HOURS]),
  );
}

/**
 * Writes this process's minutes before it closes the database; never throws (a script's outcome
 * matters more than its metrics). The history is written per process, by the writer below, and a
 * process that ends without a last write loses what it did since the writer's last tick: a
 * script never ran the writer at all, so npm start's demo seed, a rebuild from the command line
 * or a user created by users:create appended and replayed without a trace on Admin → Metrics.
 */
export async function flushRollupsAtExit(db: Db): Promise<void> {
  try {
    await flushRollups(db);
  } catch (error) {
    componentLogger("metrics").warn({ ...errorFields(error) }, "metric rollups not written");
  }
}

const key = Symbol.for("emr.rollupWriter");
type GlobalWithWriter = typeof globalThis & { [key]?: { stop: () => Promise<void> } };

/**
 * Starts this process's rollup writer (once): every `everyMs` it samples the database gauges and
 * upserts the minute's totals; hourly it prunes old rows. Failures are logged, never thrown. Its
 * stop writes the minutes once more, after any write in flight (an older write landing last
 * would put back smaller totals), so a worker that stops loses none of its last seconds.
 */
export function startRollupWriter(db: Db, everyMs = 15_000): () => Promise<void> {
  const g = globalThis as GlobalWithWriter;
  if (g[key]) return g[key].stop;
  const log = componentLogger("metrics");
  let lastPrune = 0;
  let running: Promise<void> | null = null;
  const tick = () => (running ??= write().finally(() => (running = null)));
  const write = async () => {
    try {
      await sampleDatabaseGauges(db);
      await flushRollups(db);
      if (Date.now() - lastPrune > 3_600_000) {
        lastPrune = Date.now();
        await pruneRollups(db);
      }
    } catch (error) {
      log.warn({ ...errorFields(error) }, "metric rollups not written");
    }
  };
  const timer = setInterval(() => void tick(), everyMs);
  timer.unref();
  void tick();
  const stop = async () => {
    clearInterval(timer);
    delete g[key];
    await running;
    await flushRollupsAtExit(db);
  };
  g[key] = { stop };
  return stop;
}

export const historyRanges = {
  hour: { minutes: 60, bucketMinutes: 1 },
  day: { minutes: 1440, bucketMinutes: 10 },
} as const;
export type HistoryRange = keyof typeof historyRanges;

export type HistoryPoint = {
  /** Bucket start. */
  t: number;
  appendsPerMinute: number | null;
  storeEvents: number | null;
  storeBytes: number | null;
  snapshotsPerMinute: number | null;
  outboxLagSeconds: number | null;
  outboxPending: number | null;
  publishLatencyMs: number | null;
  conflictsPerMinute: number | null;
  replayMs: number | null;
  replayEventsPerMinute: number | null;
  loadMs: number | null;
  snapshotHitRate: number | null;
  httpErrorsPerMinute: number | null;
  httpServerErrorsPerMinute: number | null;
  httpRequestsPerMinute: number | null;
};

type RollupRow = { bucket: Date; metric: string; total: number | string; samples: number | string; largest: number | string };

/** The cluster's history over the range, one point per bucket (empty buckets included, as nulls). */
export async function metricsHistory(db: Db, range: HistoryRange, now = Date.now()): Promise<{ bucketMinutes: number; points: HistoryPoint[] }> {
  const { minutes, bucketMinutes } = historyRanges[range];
  const bucketMs = bucketMinutes * 60_000;
  const end = Math.floor(now / bucketMs) * bucketMs + bucketMs;
  const start = end - minutes * 60_000;
  // Counters and durations sum over processes; the cluster-wide gauges (store size, outbox lag),
  // sampled by every process, take the bucket's largest sample instead.
  const rows = await prismaRunner(db)<RollupRow>(
    `SELECT to_timestamp(floor(extract(epoch FROM minute) / $3) * $3) AS bucket, metric,
            sum(value) AS total, sum(samples) AS samples, max(value) AS largest
       FROM metric_rollups
      WHERE minute >= $1 AND minute < $2
      GROUP BY 1, 2`,
    [new Date(start), new Date(end), bucketMs / 1000],
  );
  const byBucket = new Map<number, Map<string, { total: number; samples: number; largest: number }>>();
  for (const r of rows) {
    const t = new Date(r.bucket).getTime();
    const cells = byBucket.get(t) ?? new Map();
    cells.set(r.metric, { total: Number(r.total), samples: Number(r.samples), largest: Number(r.largest) });
    byBucket.set(t, cells);
  }
  const points: HistoryPoint[] = [];
  for (let t = start; t < end; t += bucketMs) {
    const cells = byBucket.get(t);
    const perMinute = (m: string) => {
      const c = cells?.get(m);
      return c ? c.total / bucketMinutes : cells ? 0 : null;
    };
    const gauge = (m: string) => cells?.get(m)?.largest ?? null;
    const averageMs = (m: string) => {
      const c = cells?.get(m);
      return c && c.samples > 0 ? (c.total / c.samples) * 1000 : null;
    };
    const loads = cells?.get("load_seconds")?.samples ?? 0;
    points.push({
      t,
      appendsPerMinute: perMinute("events_appended"),
      storeEvents: gauge("store_events"),
      storeBytes: gauge("store_bytes"),
      snapshotsPerMinute: perMinute("snapshots_written"),
      outboxLagSeconds: gauge("outbox_lag_seconds"),
      outboxPending: gauge("outbox_pending"),
      publishLatencyMs: averageMs("publish_latency_seconds"),
      conflictsPerMinute: perMinute("conflicts"),
      replayMs: averageMs("replay_seconds"),
      replayEventsPerMinute: perMinute("replay_events"),
      loadMs: averageMs("load_seconds"),
      snapshotHitRate: loads > 0 ? (cells?.get("load_snapshot_hits")?.total ?? 0) / loads : null,
      httpErrorsPerMinute: perMinute("http_errors"),
      httpServerErrorsPerMinute: perMinute("http_server_errors"),
      httpRequestsPerMinute: perMinute("http_requests"),
    });
  }
  return { bucketMinutes, points };
}
