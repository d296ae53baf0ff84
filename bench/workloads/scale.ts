// 12. At scale: row 8's log laid down in bulk in a database of its own, to 1,000,000 events and
// then to 10,000,000 (--quick: 100,000 then 250,000; --smoke: 3,000 then 6,000), and at each size:
// - replay: the whole log through streamAll (commit order, gap-safe, trusted decode, the
//   clinical registry) against the raw ceiling reading the same table by position; events/s and
//   the bench process's peak RSS (it must not grow with the log);
// - the audit event browser: row 8's filters, ours (searchEvents) against the same SQL;
// - an export (server/audit/export.ts, NDJSON, the event view) of the newest events, a window of
//   the same size at both sizes: the bench process's peak RSS.
// The log is laid down with generate_series (row 8's fixture) with the secondary indexes of
// `events` dropped, then rebuilt as the migrations define them (one sorted build each instead of
// ten million index updates); the keys' indexes stay.
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import pg from "pg";
import { startExport } from "../../server/audit/export";
import type { Database } from "../../server/db/client";
import { streamAll, type Store } from "../../server/eventStore";
import { replayByPosition } from "../contenders/raw";
import { foldReplay, initialReplay } from "../lib/events";
import { openSideStore } from "../lib/sideStore";
import { installStockParsers } from "../lib/pgTypes";
import { percentile, rssDuring, timed } from "../lib/stats";
import type { BenchContext, Figure, Workload } from "../lib/types";
import { auditSamples, fixtureSql, queries } from "./auditQuery";

const fmt = (n: number) => n.toLocaleString("en-US");
const short = (n: number) => (n >= 1_000_000 ? `${n / 1_000_000}M` : n >= 1000 ? `${n / 1000}k` : String(n));

/** The secondary indexes of `events` (not a key's): dropped for a bulk load, built again after. */
async function secondaryIndexes(pool: pg.Pool): Promise<{ name: string; def: string }[]> {
  const { rows } = await pool.query<{ name: string; def: string }>(
    `SELECT c.relname AS name, pg_get_indexdef(i.indexrelid) AS def
       FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
      WHERE i.indrelid = 'events'::regclass
        AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)
      ORDER BY c.relname`,
  );
  return rows;
}

/** Events `from`..`to` of row 8's fixture, in chunks, with the secondary indexes built after. */
async function layDown(ctx: BenchContext, pool: pg.Pool, from: number, to: number): Promise<number> {
  const started = performance.now();
  const indexes = await secondaryIndexes(pool);
  for (const { name } of indexes) await pool.query(`DROP INDEX ${name}`);
  const chunk = 250_000;
  for (let a = from; a <= to; a += chunk) {
    const b = Math.min(to, a + chunk - 1);
    ctx.progress.step(`12 at scale: laying down the log · ${fmt(b)} / ${fmt(to)} events`);
    await pool.query(fixtureSql(a, b));
  }
  const client = await pool.connect();
  try {
    await client.query("SET maintenance_work_mem = '256MB'");
    for (const { name, def } of indexes) {
      ctx.progress.step(`12 at scale: building ${name} on ${fmt(to)} events`);
      await client.query(def);
    }
    // As autovacuum leaves a live log: hint bits set and the visibility map written, so the first
    // reader does not pay for writing them and the second get them free.
    ctx.progress.step(`12 at scale: VACUUM ANALYZE events (${fmt(to)})`);
    await client.query("VACUUM (ANALYZE) events");
  } finally {
    client.release();
  }
  return (performance.now() - started) / 1000;
}

async function oursReplay(store: Store, pageSize: number): Promise<number> {
  const state = initialReplay();
  for await (const page of streamAll(store, { pageSize, decode: "trusted" })) {
    for (const e of page.events) foldReplay(state, e.type, e.streamId);
  }
  return state.events;
}

// A full collection before each memory figure, so one step's garbage is not counted against the
// next: with --expose-gc when given, else switched on here (V8 allows it at run time).
const gc: () => void =
  (globalThis as { gc?: () => void }).gc ??
  (() => {
    setFlagsFromString("--expose-gc");
    return runInNewContext("gc") as () => void;
  })();
const at = (i: number) => new Date(Date.UTC(2024, 10, 27) + i * 63_000);

/** An NDJSON export of the events recorded in fixture events (total - window, total]: rows, seconds, peak and rise of RSS. */
async function exportWindow(db: Database, store: Store, total: number, window: number) {
  const user = { id: "bench-officer", email: "officer@bench.invalid", name: "Bench Officer", roles: ["compliance" as const] };
  gc();
  let rows = 0;
  const started = performance.now();
  const { peakMb, growthMb } = await rssDuring(async () => {
    const run = await startExport(
      { db, store, user, correlationId: `bench-export-${total}` },
      { view: "events", format: "ndjson", recordedFrom: at(total - window + 1), recordedTo: new Date(at(total).getTime() + 1) },
    );
    for await (const chunk of run.chunks) for (let i = chunk.indexOf("\n"); i >= 0; i = chunk.indexOf("\n", i + 1)) rows++;
  });
  return { rows: rows - 1, seconds: (performance.now() - started) / 1000, peakMb, growthMb };
}

type AtSize = {
  events: number;
  layDownSeconds: number;
  replay: { ours: number; raw: number; oursPeakMb: number; rawPeakMb: number; oursGrowthMb: number; rawGrowthMb: number };
  audit: { ours: number[]; raw: number[] };
  export: { rows: number; seconds: number; peakMb: number; growthMb: number };
};

export const scale: Workload = {
  number: 12,
  id: "scale",
  title: "at scale: replay, audit browser and export memory on a bulk-laid log",
  async run(ctx) {
    const { sizes, exportWindow: window, auditPasses, pageSize } = ctx.sizes.scale;
    // The fixture's payloads are in clear, so the side store's key ring opens none.
    const { db, store, pool, close } = await openSideStore(ctx.oursUrl, "scale", 4);
    try {
      const results: AtSize[] = [];
      let laid = 0;
      for (const size of sizes) {
        const layDownSeconds = await layDown(ctx, pool, laid + 1, size);
        // Unmeasured, once: an export's first run loads and compiles what it uses (~90 MB of the
        // process's RSS in a smoke run), which is not the export's memory for its rows.
        if (results.length === 0) await exportWindow(db, store, size, Math.min(window, 1000));
        laid = size;
        const replay = { ours: 0, raw: 0, oursPeakMb: 0, rawPeakMb: 0, oursGrowthMb: 0, rawGrowthMb: 0 };
        // Who reads first alternates with the size: the second reader may find the first's pages cached.
        const order = results.length % 2 === 0 ? (["ours", "raw"] as const) : (["raw", "ours"] as const);
        for (const who of order) {
          ctx.progress.step(`12 at scale: replay of ${fmt(size)} events · ${who}`);
          ctx.contenders[who].enter();
          gc();
          let n = 0;
          const { peakMb, growthMb } = await rssDuring(async () => {
            const ms = await timed(async () => {
              n = who === "ours" ? await oursReplay(store, pageSize) : (await replayByPosition(pool, "events", pageSize)).events;
            });
            replay[who] = n / (ms / 1000);
          });
          if (n !== size) throw new Error(`12 at scale: ${who} replayed ${fmt(n)} events of ${fmt(size)}`);
          replay[who === "ours" ? "oursPeakMb" : "rawPeakMb"] = peakMb;
          replay[who === "ours" ? "oursGrowthMb" : "rawGrowthMb"] = growthMb;
        }
        installStockParsers();
        const audit = await auditSamples(ctx, store, pool, queries(size), auditPasses, `12 at scale: audit browser on ${fmt(size)} events`);
        ctx.progress.step(`12 at scale: export of the newest ${fmt(window)} events of ${fmt(size)}`);
        const exported = await exportWindow(db, store, size, window);
        results.push({ events: size, layDownSeconds, replay, audit, export: exported });
      }
      return figuresOf(ctx, results, window, auditPasses, pageSize);
    } finally {
      await close();
    }
  },
};

function figuresOf(ctx: BenchContext, results: AtSize[], window: number, passes: number, pageSize: number): Figure[] {
  const full = ctx.mode === "full";
  const sizesNote = full ? "" : ` (${ctx.mode}: ${results.map((r) => fmt(r.events)).join(" and ")} events; the full run lays down 1,000,000 and 10,000,000)`;
  const first = results[0]!;
  const figures: Figure[] = [];
  // Flat: the peak at the largest size within 64 MB of the peak at the first.
  const flat = (mb: number, base: number) => mb <= base + 64;
  for (const r of results) {
    const n = short(r.events);
    figures.push({
      workload: `12. at scale, ${n} events: replay the whole log and fold`,
      metric: "events/s",
      unit: "events/s",
      ours: r.replay.ours,
      raw: r.replay.raw,
      peer: null,
      // The issue sets no rate line at scale (row 5's is for row 5's log); the ratio is shown.
      target: null,
      better: "higher",
      note:
        `${fmt(r.events)} events of row 8's fixture laid down in bulk${sizesNote} (${Math.round(r.layDownSeconds)} s with the index builds and a VACUUM), one round, ${results.indexOf(r) % 2 === 0 ? "ours" : "raw"} reading first; ` +
        `ours: streamAll (commit order, gap-safe) + trusted decode with the clinical registry, pages of ${pageSize}; raw: position order over the primary key of the same table (not gap-safe); the peer is not laid down at this size`,
    });
    figures.push({
      workload: `12. at scale, ${n} events: replay the whole log and fold`,
      metric: "bench process peak RSS during the replay",
      unit: "MB",
      ours: r.replay.oursPeakMb,
      raw: r.replay.rawPeakMb,
      peer: null,
      target: r === first ? null : `flat: within 64 MB of the ${short(first.events)} figure`,
      better: "lower",
      ...(r === first ? {} : { check: ({ ours }: { ours: number }) => flat(ours, first.replay.oursPeakMb) }),
      note: `sampled every 5 ms; rise over where the replay started: ours ${Math.round(r.replay.oursGrowthMb)} MB, raw ${Math.round(r.replay.rawGrowthMb)} MB`,
    });
    figures.push({
      workload: `12. at scale, ${n} events: audit event browser, page of 50 with a filter`,
      metric: "latency p95",
      unit: "ms",
      ours: percentile(r.audit.ours, 95),
      raw: percentile(r.audit.raw, 95),
      peer: null,
      target: "< 50 ms",
      better: "lower",
      check: ({ ours }) => ours < 50,
      note: `row 8's 8 filters × ${passes} passes (p50 ours ${percentile(r.audit.ours, 50).toFixed(2)} ms, raw ${percentile(r.audit.raw, 50).toFixed(2)} ms)`,
    });
    figures.push({
      workload: `12. at scale, ${n} events: audit export (NDJSON, event view)`,
      metric: "bench process peak RSS during the export",
      unit: "MB",
      ours: r.export.peakMb,
      raw: null,
      peer: null,
      target: r === first ? null : `flat: within 64 MB of the ${short(first.events)} figure`,
      better: "lower",
      ...(r === first ? {} : { check: ({ ours }: { ours: number }) => flat(ours, first.export.peakMb) }),
      note: `startExport of the newest ${fmt(window)} events (a recorded-time window of the same size at every log size): ${fmt(r.export.rows)} rows in ${r.export.seconds.toFixed(1)} s, read 500 a page through searchEvents; rise over where it started ${Math.round(r.export.growthMb)} MB`,
    });
  }
  return figures;
}
