// Each metric moves when its cause happens, and shows at /api/metrics (parsed as Prometheus text).
import { generateKeyPairSync, randomUUID } from "node:crypto";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import pg from "pg";
import { expect, it } from "vitest";
import { handleCommand, loadAggregate, loadAtVersion, sealLog } from "../eventStore";
import { patientDecider } from "../domain/patient/decider";
import { patientStream } from "../domain/streams";
import { callerAs, codeOf, newPatient } from "../testing/caller";
import { describeEachDatabase, pgUrl } from "../testing/db";
import { newStreamId, note, storeOf } from "../testing/events";
import { drainOutbox } from "../workers/outbox";
import type { SessionUser } from "../api/context";
import type { AddressInfo } from "node:net";
import { metricsRouteHandler, startMetricsServer } from "./expose";
import { projectionLags, readStoreFigures } from "./database";
import { ensureCheckpoints } from "../projections/runner";
import { inlineProjections } from "../projections/registry";
import type { Projection } from "../projections/types";
import { noteProjection } from "../testing/noteProjection";
import { appendToStream } from "../eventStore";
import { recordRebuild } from "./registry";

const token = "test-metrics-token-0123456789";
const clinician: SessionUser = { id: "metrics-clinician", email: "m@example.test", name: "Metrics Clinician", roles: ["clinician"] };

type Sample = { labels?: Record<string, string>; value?: string; count?: string; sum?: string; buckets?: Record<string, string> };
type Family = { name: string; type: string; metrics: Sample[] };

describeEachDatabase("metrics", (db, kind) => {
  const scrape = async (): Promise<Family[]> => {
    const handler = metricsRouteHandler({ token: () => token, db: async () => db().prisma });
    const response = await handler(new Request("http://localhost/api/metrics", { headers: { authorization: `Bearer ${token}` } }));
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toContain("text/plain");
    const text = await response.text();
    // The parser folds a labelled histogram into one unlabelled sample; without its TYPE line
    // each of _bucket, _sum and _count parses as a plain labelled series instead.
    const families = parsePrometheusTextFormat(text.replace(/^# TYPE \S+ histogram$/gm, "")) as Family[];
    histogramNames = new Set((parsePrometheusTextFormat(text) as Family[]).filter((f) => f.type === "HISTOGRAM").map((f) => f.name));
    return families;
  };
  let histogramNames = new Set<string>();
  /** A counter's or gauge's value (a histogram's: its count), summed over the samples with these labels. */
  const value = (families: Family[], name: string, labels: Record<string, string> = {}): number => {
    const series = histogramNames.has(name) ? `${name}_count` : name;
    return families
      .filter((f) => f.name === series)
      .flatMap((f) => f.metrics)
      .filter((s) => Object.entries(labels).every(([k, v]) => s.labels?.[k] === v))
      .reduce((sum, s) => sum + Number(s.value ?? 0), 0);
  };

  it("counts appends, their latency and the HTTP call that made them", async () => {
    const before = await scrape();
    const api = await callerAs(db(), clinician);
    await api.patient.register(newPatient());
    const after = await scrape();
    expect(value(after, "emr_events_appended_total", { aggregate_type: "patient" }) - value(before, "emr_events_appended_total", { aggregate_type: "patient" })).toBe(1);
    expect(value(after, "emr_append_duration_seconds", { aggregate_type: "patient" })).toBeGreaterThan(value(before, "emr_append_duration_seconds", { aggregate_type: "patient" }));
    expect(value(after, "emr_trpc_request_duration_seconds", { procedure: "patient.register", type: "mutation" })).toBe(
      value(before, "emr_trpc_request_duration_seconds", { procedure: "patient.register", type: "mutation" }) + 1,
    );
    expect(histogramNames).toContain("emr_append_duration_seconds");
    // Default process metrics are there too.
    expect(value(after, "process_cpu_user_seconds_total")).toBeGreaterThan(0);
  });

  it("counts a concurrency conflict by aggregate type, and the error by procedure and code", async () => {
    const api = await callerAs(db(), clinician);
    const { patientId } = await api.patient.register(newPatient());
    await api.patient.updateDemographics({ patientId, expectedVersion: 1, changes: { givenName: "Grace" }, reason: "typo" });
    const before = await scrape();
    const stale = api.patient.updateDemographics({ patientId, expectedVersion: 1, changes: { givenName: "Ada" }, reason: "again" });
    expect(await codeOf(stale)).toBe("CONFLICT");
    const after = await scrape();
    expect(value(after, "emr_concurrency_conflicts_total", { aggregate_type: "patient" }) - value(before, "emr_concurrency_conflicts_total", { aggregate_type: "patient" })).toBe(1);
    expect(value(after, "emr_trpc_errors_total", { procedure: "patient.updateDemographics", code: "CONFLICT" }) - value(before, "emr_trpc_errors_total", { procedure: "patient.updateDemographics", code: "CONFLICT" })).toBe(1);
  });

  it("counts snapshots written, loads with and without one, and time-travel replays", async () => {
    const store = storeOf(db());
    const patientId = randomUUID();
    const streamId = patientStream(patientId);
    const envelope = () => ({ userId: "u", correlationId: randomUUID(), commandId: randomUUID() });
    const before = await scrape();
    await handleCommand(
      store,
      streamId,
      patientDecider,
      { type: "RegisterPatient", data: { patientId, ...newPatient(), phone: null, email: null, address: null }, metadata: { now: new Date() } },
      envelope(),
      { snapshotEvery: 2 },
    );
    await handleCommand(
      store,
      streamId,
      patientDecider,
      { type: "UpdatePatientDemographics", data: { patientId, changes: { givenName: "Grace" }, reason: "r" }, metadata: { now: new Date() } },
      envelope(),
      { snapshotEvery: 2 },
    );
    await loadAggregate(store, streamId, patientDecider);
    await loadAggregate(store, streamId, patientDecider, { useSnapshots: false });
    await loadAtVersion(store, streamId, patientDecider, 1);
    const after = await scrape();
    const delta = (name: string, labels: Record<string, string> = {}) => value(after, name, labels) - value(before, name, labels);
    expect(delta("emr_snapshots_written_total", { aggregate_type: "patient" })).toBe(1);
    expect(delta("emr_aggregate_loads_total", { aggregate_type: "patient", snapshot: "hit" })).toBeGreaterThanOrEqual(1);
    expect(delta("emr_aggregate_loads_total", { aggregate_type: "patient", snapshot: "miss" })).toBeGreaterThanOrEqual(2);
    expect(delta("emr_aggregate_load_duration_seconds", { aggregate_type: "patient" })).toBeGreaterThanOrEqual(3);
    expect(delta("emr_replay_duration_seconds", { kind: "time_travel" })).toBe(1);
    expect(delta("emr_replay_events_total", { kind: "time_travel" })).toBe(1);
  });

  it("counts publishes and their append-to-publish latency; reads the store's size and the outbox from the database", async () => {
    const api = await callerAs(db(), clinician);
    await api.patient.register(newPatient());
    const figures = await readStoreFigures(db().prisma);
    expect(figures.events).toBeGreaterThan(0);
    expect(figures.bytes.events).toBeGreaterThan(0);
    expect(figures.outbox.pending).toBeGreaterThan(0);
    const before = await scrape();
    expect(value(before, "emr_store_events")).toBe(figures.events);
    expect(value(before, "emr_outbox_pending")).toBeGreaterThan(0);
    expect(value(before, "emr_store_bytes", { table: "events" })).toBeGreaterThan(0);
    let published = 0;
    for (let i = 0; i < 100; i++) {
      const r = await drainOutbox({ store: storeOf(db()), handlers: new Map() }, { batchSize: 500, maxAttempts: 5 });
      published += r.published;
      if (r.claimed === 0) break;
    }
    const after = await scrape();
    expect(value(after, "emr_outbox_published_total") - value(before, "emr_outbox_published_total")).toBe(published);
    expect(value(after, "emr_outbox_append_to_publish_seconds") - value(before, "emr_outbox_append_to_publish_seconds")).toBe(published);
    expect(published).toBeGreaterThan(0);
  });

  it("reads whether sealing keeps up: the events past the newest seal, the oldest one's age and the seal's age", async () => {
    const api = await callerAs(db(), clinician);
    await api.patient.register(newPatient());
    await sealLog(storeOf(db()), generateKeyPairSync("ed25519").privateKey);
    await api.patient.register(newPatient());
    const families = await scrape();
    for (const name of ["emr_audit_unsealed_events", "emr_audit_unsealed_oldest_seconds", "emr_audit_last_seal_age_seconds"]) {
      expect(families.find((f) => f.name === name)?.type).toBe("GAUGE");
    }
    // Other files append and seal on the same database meanwhile: bounds, not exact figures.
    expect(value(families, "emr_audit_unsealed_events")).toBeGreaterThanOrEqual(1);
    expect(value(families, "emr_audit_unsealed_oldest_seconds")).toBeGreaterThanOrEqual(0);
    expect(value(families, "emr_audit_unsealed_oldest_seconds")).toBeLessThan(3_600);
    expect(value(families, "emr_audit_last_seal_age_seconds")).toBeGreaterThanOrEqual(0);
    expect(value(families, "emr_audit_last_seal_age_seconds")).toBeLessThan(600);
  });

  it("reports a finished rebuild's duration and rate", async () => {
    const before = await scrape();
    recordRebuild("rm_patients", 5_000, 2);
    const after = await scrape();
    expect(value(after, "emr_projection_rebuild_events_total", { projection: "rm_patients" }) - value(before, "emr_projection_rebuild_events_total", { projection: "rm_patients" })).toBe(5_000);
    expect(value(after, "emr_projection_rebuild_events_per_second", { projection: "rm_patients" })).toBe(2_500);
    expect(value(after, "emr_replay_duration_seconds", { kind: "rebuild" }) - value(before, "emr_replay_duration_seconds", { kind: "rebuild" })).toBe(1);
  });

  it("reports an async projection's lag as the console does: its own event types after its checkpoint; inline projections and ones never started, not at all", async () => {
    const suffix = randomUUID().replace(/-/g, "").slice(0, 8);
    const of = (name: string, eventTypes: string[]): Projection => ({ ...noteProjection({ name }), eventTypes });
    // Caught up on the only type it reads, with the rest of the log (other types) after its checkpoint.
    const quiet = of(`lag_quiet_${suffix}`, [`NoSuchEvent${suffix}`]);
    const notes = of(`lag_notes_${suffix}`, ["NoteAdded"]);
    const never = of(`lag_never_${suffix}`, ["NoteAdded"]);
    await ensureCheckpoints(db().prisma, [quiet, notes]);
    await appendToStream(storeOf(db()), newStreamId(), [note(1), note(2), note(3)], { expectedVersion: "no_stream", aggregateType: "note" });
    const lags = await projectionLags(db().prisma, [quiet, notes, never]);
    expect(lags.map((l) => l.projection)).toEqual([quiet.name, notes.name]);
    expect(lags[0]).toEqual({ projection: quiet.name, events: 0, seconds: 0 });
    expect(lags[1]!.events).toBeGreaterThanOrEqual(3);
    expect(lags[1]!.seconds).toBeGreaterThanOrEqual(0);
    // The scrape: no series for the inline projections, which commit with the events they read.
    const families = await scrape();
    const series = families.find((f) => f.name === "emr_projection_lag_events")?.metrics ?? [];
    const named = series.map((m) => (m.labels as Record<string, string>).projection);
    for (const inline of inlineProjections) expect(named).not.toContain(inline.name);
  });

  it.skipIf(kind !== "postgresql")("shows what holds the global log's readers back: the events waiting behind an open transaction of this database, and its age", async () => {
    const idle = new pg.Client({ connectionString: pgUrl! });
    await idle.connect();
    try {
      // A session left idle in a transaction that holds an id: readers wait for it.
      await idle.query("BEGIN");
      await idle.query("SELECT pg_current_xact_id()");
      await new Promise((r) => setTimeout(r, 1100));
      await (await callerAs(db(), clinician)).patient.register(newPatient());
      const families = await scrape();
      expect(value(families, "emr_log_reader_held_events")).toBeGreaterThanOrEqual(1);
      expect(value(families, "emr_log_reader_held_seconds")).toBeGreaterThanOrEqual(1);
    } finally {
      await idle.query("ROLLBACK").catch(() => {});
      await idle.end();
    }
  });

  it("refuses a scrape without the right token, and answers 503 when no token is configured", async () => {
    const handler = metricsRouteHandler({ token: () => token, db: async () => db().prisma });
    const url = "http://localhost/api/metrics";
    expect((await handler(new Request(url))).status).toBe(401);
    expect((await handler(new Request(url, { headers: { authorization: "Bearer wrong-token-of-some-length" } }))).status).toBe(401);
    expect((await handler(new Request(url, { headers: { authorization: token } }))).status).toBe(401);
    const unset = metricsRouteHandler({ token: () => undefined, db: async () => db().prisma });
    expect((await unset(new Request(url, { headers: { authorization: `Bearer ${token}` } }))).status).toBe(503);
  });

  it("the worker's own metrics port, without a token, listens on the loopback interface only", async () => {
    const server = await startMetricsServer({ port: 0, db: db().prisma });
    try {
      expect((server.address() as AddressInfo).address).toBe("127.0.0.1");
      expect((await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`)).status).toBe(200);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    const guarded = await startMetricsServer({ port: 0, db: db().prisma, token });
    try {
      expect((guarded.address() as AddressInfo).address).toBe("0.0.0.0");
    } finally {
      await new Promise((resolve) => guarded.close(resolve));
    }
  });

  it("the worker's own metrics port serves the same text, with the same token check", async () => {
    const server = await startMetricsServer({ port: 0, host: "127.0.0.1", db: db().prisma, token });
    try {
      const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      expect((await fetch(`${base}/metrics`)).status).toBe(401);
      expect((await fetch(`${base}/other`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(404);
      const response = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${token}` } });
      expect(response.status).toBe(200);
      const families = parsePrometheusTextFormat(await response.text()) as Family[];
      expect(families.find((f) => f.name === "emr_store_events")?.type).toBe("GAUGE");
      expect(families.find((f) => f.name === "emr_outbox_pending")).toBeDefined();
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
