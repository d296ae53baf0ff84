// Row 5 A/B: replay variants interleaved on one fresh database, every round followed by the raw
// ceiling's replay of the same rows (raw_events holds a copy of events), so each variant has a raw
// figure from the same minute. Reports wall events/s, the bench process's CPU per event and the
// ratio to raw. `npx tsx bench/diagnoseReplay.ts` (EVENTS=100000, ROUNDS=3, PAGE=1000,
// VARIANTS=a,b picks some, WRITERS=8 BATCH=5 writes the log as row 2 does, KEEP=1 leaves the
// database for psql, PROFILE=x.cpuprofile profiles the measured rounds alone; DATABASE_URL's
// server).
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import pg from "pg";
import { streamAll } from "../server/eventStore/read";
import { openOurs } from "./contenders/ours";
import { openRaw } from "./contenders/raw";
import { foldReplay, initialReplay } from "./lib/events";
import { installStockParsers } from "./lib/pgTypes";
import { writeAll } from "./workloads/appendThroughput";

const server = new URL(process.env.DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres");
const name = `replay_ab_${Date.now().toString(36)}`;
const admin = new pg.Client({ connectionString: server.toString() });
await admin.connect();
await admin.query(`CREATE DATABASE ${name}`);
server.pathname = `/${name}`;
const url = server.toString();
const events = Number(process.env.EVENTS ?? 100_000);
const pageSize = Number(process.env.PAGE ?? 1000);
const ours = await openOurs(url, 8);
const raw = await openRaw(url, 8);
try {
  installStockParsers();
  // How the log was written: 4 writers in batches of 100 as row 5 tops up, or (WRITERS=8 BATCH=5)
  // as row 2 writes, where one commit's events sit between other writers' on the heap.
  const writers = Number(process.env.WRITERS ?? 4);
  const batch = Number(process.env.BATCH ?? 100);
  await writeAll(ours, writers, Math.ceil(events / (writers * batch)), batch, 1000);
  // The raw ceiling reads the same rows, in the same positions.
  await raw.pool.query(
    `INSERT INTO raw_events (event_id, stream_id, aggregate_type, event_type, version, event_version, data, metadata,
                             occurred_at, recorded_at, user_id, correlation_id, causation_id)
     SELECT event_id, stream_id, aggregate_type, event_type, version, event_version, data, metadata,
            occurred_at, recorded_at, user_id, correlation_id, causation_id FROM events ORDER BY global_position`,
  );
  await raw.pool.query("VACUUM ANALYZE events");
  await raw.pool.query("VACUUM ANALYZE raw_events");
  const variants: Record<string, () => Promise<number>> = {
    "ours-trusted": async () => (await ours.replay(pageSize)).events,
    "ours-validated": async () => {
      const state = initialReplay();
      for await (const page of streamAll(ours.store, { pageSize, decode: "validated" })) {
        for (const e of page.events) foldReplay(state, e.type, e.streamId);
      }
      return state.events;
    },
  };
  const only = process.env.VARIANTS?.split(",");
  const measure = async (fn: () => Promise<number>) => {
    const cpu = process.cpuUsage();
    const t0 = performance.now();
    const n = await fn();
    const ms = performance.now() - t0;
    const used = process.cpuUsage(cpu);
    return { n, rate: n / (ms / 1000), cpuUs: (used.user + used.system) / n };
  };
  await measure(() => raw.replay(pageSize).then((s) => s.events)); // warm-up
  for (const fn of Object.values(variants)) await measure(fn);
  const fmt = (x: number) => Math.round(x).toLocaleString("en-US");
  const profiler = process.env.PROFILE ? new Session() : null;
  if (profiler) {
    profiler.connect();
    await profiler.post("Profiler.enable");
    await profiler.post("Profiler.start");
  }
  for (let round = 1; round <= Number(process.env.ROUNDS ?? 3); round++) {
    for (const [label, fn] of Object.entries(variants)) {
      if (only && !only.includes(label)) continue;
      const a = await measure(fn);
      const r = await measure(() => raw.replay(pageSize).then((s) => s.events));
      console.log(
        `round ${round} ${label.padEnd(18)} ${fmt(a.rate)} ev/s (${a.cpuUs.toFixed(1)} µs CPU/ev, n=${a.n})  raw ${fmt(r.rate)} ev/s (${r.cpuUs.toFixed(1)} µs CPU/ev)  ratio ${(a.rate / r.rate).toFixed(2)}×`,
      );
    }
  }
  if (profiler) {
    const { profile } = await profiler.post("Profiler.stop");
    writeFileSync(process.env.PROFILE!, JSON.stringify(profile));
  }
} finally {
  await ours.close();
  await raw.close();
  if (process.env.KEEP) console.log(`kept ${name}`);
  else await admin.query(`DROP DATABASE ${name} WITH (FORCE)`);
  await admin.end();
}
