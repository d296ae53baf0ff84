// The process's metrics, with prom-client: what the code path observes (appends, loads,
// snapshots, conflicts, publishes, replays, requests) plus Node's default process metrics.
// Figures that live in the database (store size, outbox lag, projection lag) are read at scrape
// time instead (./database.ts), so every instance reports the cluster's truth.
// Each observation also goes into this process's running totals for the current minute
// (./minute.ts), which ./rollups.ts writes to metric_rollups for the admin charts.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { addToMinute } from "./minute";

// Latencies from a fraction of a millisecond (a warm append) to tens of seconds (a rebuild).
const fastBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const slowBuckets = [0.01, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600];

function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const r = [registry];
  return {
    registry,
    appendDuration: new Histogram({
      name: "emr_append_duration_seconds",
      help: "Time of one append (one round trip that writes a stream's batch), by aggregate type",
      labelNames: ["aggregate_type"] as const,
      buckets: fastBuckets,
      registers: r,
    }),
    eventsAppended: new Counter({
      name: "emr_events_appended_total",
      help: "Events appended (repeats of an earlier append not counted), by aggregate type",
      labelNames: ["aggregate_type"] as const,
      registers: r,
    }),
    conflicts: new Counter({
      name: "emr_concurrency_conflicts_total",
      help: "Appends or commands refused because the stream was not at the expected version, by aggregate type",
      labelNames: ["aggregate_type"] as const,
      registers: r,
    }),
    snapshotsWritten: new Counter({
      name: "emr_snapshots_written_total",
      help: "Aggregate snapshots written, by aggregate type",
      labelNames: ["aggregate_type"] as const,
      registers: r,
    }),
    loads: new Counter({
      name: "emr_aggregate_loads_total",
      help: "Aggregate loads by aggregate type and whether a snapshot was used (snapshot hit rate: hit / all)",
      labelNames: ["aggregate_type", "snapshot"] as const,
      registers: r,
    }),
    loadDuration: new Histogram({
      name: "emr_aggregate_load_duration_seconds",
      help: "Time to load an aggregate (snapshot plus later events, folded), by aggregate type",
      labelNames: ["aggregate_type"] as const,
      buckets: fastBuckets,
      registers: r,
    }),
    replayDuration: new Histogram({
      name: "emr_replay_duration_seconds",
      help: "Time of one replay of stored events: time travel (state as of a past version or time) or a projection rebuild",
      labelNames: ["kind"] as const,
      buckets: [...fastBuckets, 30, 60, 300, 900, 3600],
      registers: r,
    }),
    replayEvents: new Counter({
      name: "emr_replay_events_total",
      help: "Events replayed (divide by emr_replay_duration_seconds_sum for the replay rate)",
      labelNames: ["kind"] as const,
      registers: r,
    }),
    rebuildDuration: new Histogram({
      name: "emr_projection_rebuild_duration_seconds",
      help: "Time of a finished projection rebuild, by projection",
      labelNames: ["projection"] as const,
      buckets: slowBuckets,
      registers: r,
    }),
    rebuildEvents: new Counter({
      name: "emr_projection_rebuild_events_total",
      help: "Events replayed by projection rebuilds, by projection",
      labelNames: ["projection"] as const,
      registers: r,
    }),
    rebuildRate: new Gauge({
      name: "emr_projection_rebuild_events_per_second",
      help: "Events per second of the last finished rebuild, by projection",
      labelNames: ["projection"] as const,
      registers: r,
    }),
    published: new Counter({
      name: "emr_outbox_published_total",
      help: "Outbox rows published to every consumer and marked done by this process",
      registers: r,
    }),
    publishFailures: new Counter({
      name: "emr_outbox_publish_failures_total",
      help: "Outbox publish failures by outcome (retried later, or dead-lettered)",
      labelNames: ["outcome"] as const,
      registers: r,
    }),
    appendToPublish: new Histogram({
      name: "emr_outbox_append_to_publish_seconds",
      help: "Time from an event's append to its publish being recorded (database clock)",
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers: r,
    }),
    retentionDeleted: new Counter({
      name: "emr_outbox_retention_deleted_total",
      help: "Processed outbox rows deleted after OUTBOX_RETENTION_DAYS by this process",
      registers: r,
    }),
    requestDuration: new Histogram({
      name: "emr_trpc_request_duration_seconds",
      help: "Time of one tRPC procedure call, by procedure and type (query, mutation)",
      labelNames: ["procedure", "type"] as const,
      buckets: fastBuckets,
      registers: r,
    }),
    requestErrors: new Counter({
      name: "emr_trpc_errors_total",
      help: "tRPC procedure calls that ended in an error, by procedure and tRPC error code",
      labelNames: ["procedure", "code"] as const,
      registers: r,
    }),
    // Read from the database at scrape time (./database.ts).
    storeEvents: new Gauge({
      name: "emr_store_events",
      help: "Events in the store (the highest global position: events are never deleted)",
      registers: r,
    }),
    storeBytes: new Gauge({
      name: "emr_store_bytes",
      help: "On-disk size of the store's tables with their indexes and TOAST, by table",
      labelNames: ["table"] as const,
      registers: r,
    }),
    outboxPending: new Gauge({
      name: "emr_outbox_pending",
      help: "Outbox rows not yet published and not dead-lettered (counted up to 100,000)",
      registers: r,
    }),
    outboxOldestAge: new Gauge({
      name: "emr_outbox_oldest_pending_age_seconds",
      help: "Age of the longest-waiting pending outbox row (0 when none is pending), not counting rows held behind a dead letter (see emr_outbox_dead_lettered)",
      registers: r,
    }),
    outboxDead: new Gauge({
      name: "emr_outbox_dead_lettered",
      help: "Dead-lettered outbox rows awaiting an admin (counted up to 100,000)",
      registers: r,
    }),
    logReaderHeldEvents: new Gauge({
      name: "emr_log_reader_held_events",
      help: "Committed events that global-log readers (projections) cannot see yet because an older transaction of this database is still open (counted up to 10,000)",
      registers: r,
    }),
    logReaderHeldSeconds: new Gauge({
      name: "emr_log_reader_held_seconds",
      help: "Age of the open transaction of this database that holds global-log readers back (0 when none does); idle_in_transaction_session_timeout bounds a forgotten one",
      registers: r,
    }),
    auditUnsealedEvents: new Gauge({
      name: "emr_audit_unsealed_events",
      help: "Events recorded after the newest audit seal, not yet sealed (counted up to 100,000)",
      registers: r,
    }),
    auditUnsealedOldest: new Gauge({
      name: "emr_audit_unsealed_oldest_seconds",
      help: "Age of the oldest event not yet sealed (0 when everything is sealed); the console calls sealing late past 300",
      registers: r,
    }),
    auditLastSealAge: new Gauge({
      name: "emr_audit_last_seal_age_seconds",
      help: "Age of the newest audit seal (0 when nothing was sealed yet: then emr_audit_unsealed_oldest_seconds grows)",
      registers: r,
    }),
    projectionLagEvents: new Gauge({
      name: "emr_projection_lag_events",
      help: "Events of its types in the log past the async projection's checkpoint, in commit order (counted up to 100,000), by projection",
      labelNames: ["projection"] as const,
      registers: r,
    }),
    projectionLagSeconds: new Gauge({
      name: "emr_projection_lag_seconds",
      help: "Age of the oldest event the projection has not applied yet (0 when caught up), by projection",
      labelNames: ["projection"] as const,
      registers: r,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;

// One set per process: Next bundles server code into several layers that would otherwise each
// make their own registry (and collectDefaultMetrics refuses to run twice on one).
const key = Symbol.for("emr.metrics");
type GlobalWithMetrics = typeof globalThis & { [key]?: Metrics };

export function metrics(): Metrics {
  const g = globalThis as GlobalWithMetrics;
  g[key] ??= createMetrics();
  return g[key];
}

const seconds = (startedAt: number) => (performance.now() - startedAt) / 1000;

/** An append that wrote `events` events (or repeated an earlier one: then none are counted). */
export function recordAppend(aggregateType: string, events: number, startedAt: number, repeated: boolean): void {
  const m = metrics();
  const s = seconds(startedAt);
  m.appendDuration.observe({ aggregate_type: aggregateType }, s);
  addToMinute("append_seconds", s);
  if (repeated) return;
  m.eventsAppended.inc({ aggregate_type: aggregateType }, events);
  addToMinute("events_appended", events);
}

/** A stream was not at the expected version. */
export function recordConflict(aggregateType: string): void {
  metrics().conflicts.inc({ aggregate_type: aggregateType });
  addToMinute("conflicts", 1);
}

export function recordSnapshot(aggregateType: string): void {
  metrics().snapshotsWritten.inc({ aggregate_type: aggregateType });
  addToMinute("snapshots_written", 1);
}

/**
 * An aggregate load. `temporal`: the state as of a past version or time (time travel), which is
 * also counted as a replay of the events it folded.
 */
export function recordLoad(
  aggregateType: string,
  startedAt: number,
  load: { fromSnapshot: number | null; eventsApplied: number; temporal: boolean },
): void {
  const m = metrics();
  const s = seconds(startedAt);
  m.loadDuration.observe({ aggregate_type: aggregateType }, s);
  m.loads.inc({ aggregate_type: aggregateType, snapshot: load.fromSnapshot === null ? "miss" : "hit" });
  addToMinute("load_seconds", s);
  if (load.fromSnapshot !== null) addToMinute("load_snapshot_hits", 1);
  if (load.temporal) recordReplay("time_travel", load.eventsApplied, s);
}

/** A replay of `events` stored events that took `durationSeconds`. */
export function recordReplay(kind: "time_travel" | "rebuild", events: number, durationSeconds: number): void {
  const m = metrics();
  m.replayDuration.observe({ kind }, durationSeconds);
  m.replayEvents.inc({ kind }, events);
  addToMinute("replay_seconds", durationSeconds);
  addToMinute("replay_events", events);
}

/** A finished projection rebuild (the projection runner reports it). */
export function recordRebuild(projection: string, events: number, durationSeconds: number): void {
  const m = metrics();
  m.rebuildDuration.observe({ projection }, durationSeconds);
  m.rebuildEvents.inc({ projection }, events);
  m.rebuildRate.set({ projection }, durationSeconds > 0 ? events / durationSeconds : 0);
  recordReplay("rebuild", events, durationSeconds);
}

/** Outbox rows published, with their append-to-publish latencies in seconds (when measured). */
export function recordPublished(count: number, latencies: readonly number[]): void {
  const m = metrics();
  m.published.inc(count);
  for (const s of latencies) {
    m.appendToPublish.observe(Math.max(0, s));
    addToMinute("publish_latency_seconds", Math.max(0, s));
  }
  addToMinute("outbox_published", count);
}

export function recordPublishFailures(retried: number, deadLettered: number): void {
  const m = metrics();
  if (retried > 0) m.publishFailures.inc({ outcome: "retried" }, retried);
  if (deadLettered > 0) m.publishFailures.inc({ outcome: "dead_lettered" }, deadLettered);
}

export function recordRetention(deleted: number): void {
  if (deleted > 0) metrics().retentionDeleted.inc(deleted);
}

/** One tRPC call: `code` is "OK" or the tRPC error code it ended with. */
export function recordRequest(procedure: string, type: string, durationSeconds: number, code: string): void {
  const m = metrics();
  m.requestDuration.observe({ procedure, type }, durationSeconds);
  addToMinute("http_requests", 1);
  if (code === "OK") return;
  m.requestErrors.inc({ procedure, code });
  addToMinute("http_errors", 1);
  if (code === "INTERNAL_SERVER_ERROR") addToMinute("http_server_errors", 1);
}
