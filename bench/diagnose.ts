// Where the time goes: splits ours' figures into the store's layers by running variants that
// differ in one layer each, interleaved, on one fresh database. `npx tsx bench/diagnose.ts`.
//   append: raw CTE on raw tables → the same CTE on our tables (our indexes) → append_to_stream
//           through plain pg (the plpgsql function) → through Prisma's raw pipeline (the path
//           inside transactions) → appendToStream as the app calls it
//   indexes (`--indexes`, only this): what maintaining each index of events costs per event
//   cpu (`--cpu`, only this): client and server CPU per append of each layer (diagnoseAppendCpu.ts),
//           beside the previous append_to_stream (JSON batch, a row per event) recreated from its
//           migration as append_to_stream_json; DIAGNOSE_SQL=<file> is run first (e.g. candidate
//           functions append_to_stream_x) and DIAGNOSE_FN=append_to_stream_x,... adds each as a
//           variant, called like today's function (like the previous one when its name has "json")
//   reads:  raw → our SELECT through plain pg → + registry decode → through Prisma → the store
// Also the client CPU each variant burns per call: on a 2-core machine shared with PostgreSQL,
// that is what caps throughput with 8 writers.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { openOurs } from "./contenders/ours";
import { appendStream, createStream, openRaw, rawColumns } from "./contenders/raw";
import { createBenchDatabases } from "./lib/database";
import { batchFor, benchRegistry, evolve, initialState, newStreamId, type BenchState } from "./lib/events";
import { now, percentile, rotated, side } from "./lib/stats";
import { encodeColumns } from "../server/eventStore/append";
import type { NewEvent } from "../server/eventStore/types";
import { indexVariants, measureIndexCosts } from "./diagnoseIndexes";
import { measureAppendCpu, measureIndexCostsPerAppend, pidOf, type CpuVariant } from "./diagnoseAppendCpu";

type Variant = { name: string; run: (streamId: string, events: NewEvent[], expected: number) => Promise<unknown> };

const base = process.env.DATABASE_URL?.trim() || "postgresql://postgres@127.0.0.1:5432/postgres";
const rounds = Number(process.env.DIAGNOSE_ROUNDS ?? 4);
const perRound = Number(process.env.DIAGNOSE_N ?? 250);

// append_to_stream's call as appendToStream prepares it: the batch as one array per field.
const columnsCall = (fn: string) =>
  `SELECT * FROM ${fn}($1, $2, $3::integer, $4::uuid[], $5::text[], $6::integer[], $7::jsonb, $8::jsonb, $9::timestamptz[], $10::text[], $11::text[], $12::text[])`;
const columnsValues = (id: string, ev: NewEvent[], v: number) => [id, "patient", v === 0 ? -2 : v, ...encodeColumns(benchRegistry, ev)];

// The previous function (20261130030000_append_one_statement) took the batch as one JSON
// document and answered with a row per event; created as append_to_stream_json for A/B runs.
const jsonBatch = (events: NewEvent[]): string =>
  JSON.stringify(
    events.map((event) => {
      const { eventVersion, data } = benchRegistry.encode(event);
      return {
        event_id: event.eventId,
        event_type: event.type,
        event_version: eventVersion,
        data,
        metadata: event.extra ?? {},
        occurred_at: event.occurredAt.toISOString(),
        user_id: event.userId,
        correlation_id: event.correlationId,
        causation_id: event.causationId,
      };
    }),
  );
async function createPreviousFunction(pool: pg.Pool): Promise<void> {
  const read = (name: string) => readFileSync(join(import.meta.dirname, `../prisma/migrations/${name}/migration.sql`), "utf8");
  const chain = /CREATE FUNCTION append_chain\([\s\S]*?\n\$\$;/.exec(read("20261129040000_append_one_stream_write"))?.[0];
  const fn = /CREATE OR REPLACE FUNCTION append_to_stream\([\s\S]*?\n\$\$;/.exec(read("20261130030000_append_one_statement"))?.[0];
  if (!chain || !fn) throw new Error("append_chain or append_to_stream not found in their migrations");
  await pool.query(chain.replace("CREATE FUNCTION append_chain(", "CREATE OR REPLACE FUNCTION append_chain_json("));
  await pool.query("ALTER FUNCTION append_chain_json(bytea, text, integer, jsonb) ROWS 1");
  await pool.query(
    fn.replace("CREATE OR REPLACE FUNCTION append_to_stream(", "CREATE OR REPLACE FUNCTION append_to_stream_json(").replaceAll("append_chain(", "append_chain_json("),
  );
}

// The raw contender's statement, pointed at our tables.
const onOurTables = (sql: string) =>
  sql.replaceAll("raw_streams", "streams").replaceAll("raw_events", "events").replaceAll("raw_outbox", "outbox");

const ourColumns = `global_position, event_id::text AS event_id, stream_id, aggregate_type, event_type, version,
  event_version, data, metadata, occurred_at, recorded_at, user_id, correlation_id, causation_id,
  transaction_id::text AS transaction_id`;

function stats(samples: number[]) {
  return `p50 ${percentile(samples, 50).toFixed(3)} ms  p90 ${percentile(samples, 90).toFixed(3)} ms`;
}

async function main() {
  const dbs = await createBenchDatabases(base);
  // Ctrl-C (or a closed pipe) must not leave the databases behind.
  const drop = () => void dbs.drop().finally(() => process.exit(130));
  process.once("SIGINT", drop);
  process.once("SIGTERM", drop);
  process.stdout.on("error", drop);
  const ours = await openOurs(dbs.oursUrl, 8);
  const raw = await openRaw(dbs.oursUrl, 8);
  const pool = new pg.Pool({ connectionString: dbs.oursUrl, max: 8 });
  // Dropping the database at the end ends a connection pg may still be closing.
  pool.on("error", () => {});
  try {
    if (process.argv.includes("--indexes")) {
      // A log to take realistic rows from: 8 writers, batches of 5, as bench row 2.
      await side(8, async () => {
        let id = newStreamId();
        let version = 0;
        for (let i = 0; i < perRound; i++) {
          if (version >= 100) {
            id = newStreamId();
            version = 0;
          }
          await ours.append(id, batchFor(id, version, 5), version);
          version += 5;
        }
      });
      const variants = await indexVariants(pool, [
        { name: "recorded_at as BRIN", indexes: ["CREATE INDEX ON index_probe USING brin (recorded_at)"] },
        { name: "correlation_id as hash", indexes: ["CREATE INDEX ON index_probe USING hash (correlation_id)"] },
        { name: "causation_id as hash", indexes: ["CREATE INDEX ON index_probe USING hash (causation_id)"] },
        // Issue 14: one index for the type and aggregate filters, instead of one each.
        { name: "(event_type, aggregate_type, position)", indexes: ["CREATE INDEX ON index_probe (event_type, aggregate_type, global_position)"] },
        {
          name: "correlation + event causes as one GIN",
          indexes: [
            "CREATE INDEX ON index_probe USING gin ((CASE WHEN causation_id LIKE 'command:%' OR causation_id IS NULL THEN ARRAY[correlation_id] ELSE ARRAY[correlation_id, causation_id] END))",
          ],
        },
      ]);
      if (process.env.DIAGNOSE_PER_APPEND !== "only") {
        await measureIndexCosts(pool, variants, { repetitions: Number(process.env.DIAGNOSE_ROUNDS ?? 5), rows: Number(process.env.DIAGNOSE_ROWS ?? 50_000) });
      }
      // The same variants paid the way appends pay them: 5 events per statement and transaction.
      await measureIndexCostsPerAppend(dbs.oursUrl, variants, { create: createStream, append: appendStream }, {
        rounds: Number(process.env.DIAGNOSE_ROUNDS ?? 5) + 1,
        appends: Number(process.env.DIAGNOSE_APPENDS ?? 200),
        batch: Number(process.env.DIAGNOSE_BATCH ?? 5),
      });
      return;
    }
    if (process.argv.includes("--cpu")) {
      if (process.env.DIAGNOSE_SQL) await pool.query(readFileSync(process.env.DIAGNOSE_SQL, "utf8"));
      const one = () => {
        const p = new pg.Pool({ connectionString: dbs.oursUrl, max: 1 });
        p.on("error", () => {});
        return p;
      };
      const rawPool = one();
      const oursOne = await openOurs(dbs.oursUrl, 1);
      const pools: pg.Pool[] = [rawPool];
      const cte = (p: pg.Pool, rename: (sql: string) => string, tag: string): CpuVariant["run"] => (id, ev, v) => {
        const values = [id, "patient", ev.length, ...rawColumns(ev)];
        return v === 0
          ? p.query({ name: `${tag}_create`, text: rename(createStream), values })
          : p.query({ name: `${tag}_append`, text: rename(appendStream), values: [...values, v] });
      };
      await createPreviousFunction(pool);
      const fnVariant = (fn: string, named: boolean): CpuVariant => {
        const p = one();
        pools.push(p);
        const json = fn.includes("json");
        return {
          name: `${fn} via pg${named ? " (named)" : ""}`,
          backendPid: pidOf(p),
          run: (id, ev, v) =>
            p.query({
              ...(named ? { name: fn } : {}),
              text: json ? `SELECT * FROM ${fn}($1, $2, $3::integer, $4::jsonb)` : columnsCall(fn),
              values: json ? [id, "patient", v === 0 ? -2 : v, jsonBatch(ev)] : columnsValues(id, ev, v),
            }),
        };
      };
      const ourTables = one();
      pools.push(ourTables);
      const extra = (process.env.DIAGNOSE_FN ?? "").split(",").filter(Boolean);
      const cpuVariants: CpuVariant[] = [
        { name: "raw CTE, raw tables (keys only)", backendPid: pidOf(rawPool), run: cte(rawPool, (s) => s, "r") },
        { name: "raw CTE, our tables (all indexes)", backendPid: pidOf(ourTables), run: cte(ourTables, onOurTables, "o") },
        fnVariant("append_to_stream_json", true),
        fnVariant("append_to_stream", true),
        ...extra.map((fn) => fnVariant(fn, true)),
        {
          name: "ours: appendToStream",
          backendPid: async () => (await oursOne.database.sql<{ pid: number }>("SELECT pg_backend_pid() AS pid", []))[0]!.pid,
          run: (id, ev, v) => oursOne.append(id, ev, v),
        },
      ];
      try {
        await measureAppendCpu(cpuVariants, { rounds: rounds + 1, appends: perRound, batch: Number(process.env.DIAGNOSE_BATCH ?? 5) });
      } finally {
        await oursOne.close();
        for (const p of pools) await p.end();
      }
      return;
    }
    await createPreviousFunction(pool);
    // The plpgsql function called through plain pg, as a named prepared statement.
    const functionViaPg =
      (fn: string): Variant["run"] =>
      (id, ev, v) =>
        fn.includes("json")
          ? pool.query({ name: fn, text: `SELECT * FROM ${fn}($1, $2, $3::integer, $4::jsonb)`, values: [id, "patient", v === 0 ? -2 : v, jsonBatch(ev)] })
          : pool.query({ name: fn, text: columnsCall(fn), values: columnsValues(id, ev, v) });
    const variants: Variant[] = [
      { name: "raw CTE, raw tables (keys only)", run: (id, ev, v) => raw.append(id, ev, v) },
      {
        name: "raw CTE, our tables (all indexes)",
        run: (id, ev, v) => {
          const values = [id, "patient", ev.length, ...rawColumns(ev)];
          return v === 0
            ? pool.query({ name: "o_create", text: onOurTables(createStream), values })
            : pool.query({ name: "o_append", text: onOurTables(appendStream), values: [...values, v] });
        },
      },
      { name: "append_to_stream via pg (+ encode)", run: functionViaPg("append_to_stream") },
      { name: "  same, as before (JSON batch, row per event)", run: functionViaPg("append_to_stream_json") },
      {
        name: "append_to_stream via Prisma (+ encode)",
        run: (id, ev, v) => ours.database.prisma.$queryRawUnsafe(columnsCall("append_to_stream"), ...columnsValues(id, ev, v)),
      },
      { name: "ours: appendToStream", run: (id, ev, v) => ours.append(id, ev, v) },
    ];

    // DIAGNOSE_ONLY=<regex>: only the append variants whose names match, and no reads (A/B runs).
    const only = process.env.DIAGNOSE_ONLY ? new RegExp(process.env.DIAGNOSE_ONLY) : null;
    if (only) variants.splice(0, variants.length, ...variants.filter((v) => only.test(v.name)));
    console.log(`\nappend 5 events, one writer (${rounds - 1} × ${perRound} per variant after a warm-up round)`);
    const lat = new Map<string, number[]>(variants.map((v) => [v.name, []]));
    const cpu = new Map<string, number[]>(variants.map((v) => [v.name, []]));
    for (let r = 0; r < rounds; r++) {
      for (const variant of rotated(variants, r)) {
        let id = newStreamId();
        let version = 0;
        const c0 = process.cpuUsage();
        for (let i = 0; i < perRound; i++) {
          if (version >= 100) {
            id = newStreamId();
            version = 0;
          }
          const batch = batchFor(id, version, 5);
          const t = now();
          await variant.run(id, batch, version);
          if (r > 0) lat.get(variant.name)!.push(now() - t);
          version += 5;
        }
        const c = process.cpuUsage(c0);
        if (r > 0) cpu.get(variant.name)!.push((c.user + c.system) / 1000 / perRound);
      }
    }
    for (const v of variants) {
      const c = cpu.get(v.name)!;
      console.log(`  ${v.name.padEnd(38)} ${stats(lat.get(v.name)!)}  client CPU ${(c.reduce((a, b) => a + b, 0) / c.length).toFixed(3)} ms/append`);
    }

    // DIAGNOSE_BATCH: the batch size of this section (bench row 2 runs 5 and 100).
    const batchSize = Number(process.env.DIAGNOSE_BATCH ?? 5);
    console.log(`\nappend throughput, 8 writers, batch ${batchSize} (events/s, ${rounds - 1} rounds)`);
    const tput = new Map<string, number[]>(variants.map((v) => [v.name, []]));
    for (let r = 0; r < rounds; r++) {
      for (const variant of rotated(variants, r)) {
        const appends = Math.max(10, Math.round(750 / batchSize));
        const c0 = process.cpuUsage();
        const ms = await side(8, async () => {
          let id = newStreamId();
          let version = 0;
          for (let i = 0; i < appends; i++) {
            if (version + batchSize > Math.max(100, batchSize * 10)) {
              id = newStreamId();
              version = 0;
            }
            await variant.run(id, batchFor(id, version, batchSize), version);
            version += batchSize;
          }
        });
        const c = process.cpuUsage(c0);
        if (r > 0) {
          tput.get(variant.name)!.push((8 * appends * batchSize) / (ms / 1000));
          cpu.get(variant.name)!.push((c.user + c.system) / 1000 / (ms / 1000));
        }
      }
    }
    for (const v of variants) {
      const s = tput.get(v.name)!;
      console.log(`  ${v.name.padEnd(38)} ${Math.round(percentile(s, 50)).toLocaleString("en-US").padStart(8)} events/s`);
    }

    if (only) return;
    // Reads: a log of 40,000 events in 400 streams of 100.
    console.log("\nreads (seeding 40,000 events in ours and raw)");
    const seeded = Array.from({ length: 400 }, newStreamId);
    await side(4, async (w) => {
      for (let i = w; i < seeded.length; i += 4) {
        const id = seeded[i]!;
        await ours.append(id, batchFor(id, 0, 100), 0);
        await raw.append(id, batchFor(id, 0, 100), 0);
      }
    });
    await pool.query("VACUUM ANALYZE events");
    await pool.query("VACUUM ANALYZE raw_events");
    let k = 0;
    const nextStream = () => seeded[k++ % seeded.length]!;
    const decodeFold = (rows: { event_type: string; event_version: number; data: unknown }[]) =>
      rows.reduce<BenchState>((s, r) => evolve(s, { type: r.event_type, data: benchRegistry.decode(r.event_type, r.event_version, r.data) }), initialState());
    const byStream = `SELECT ${ourColumns} FROM events WHERE stream_id = $1 ORDER BY version`;
    const loads: Variant[] = [
      { name: "raw: SELECT * + fold", run: () => raw.load(nextStream(), false) },
      { name: "our SELECT via pg + fold (no decode)", run: async () => (await pool.query(byStream, [nextStream()])).rows.reduce((s, r) => evolve(s, { type: r.event_type, data: r.data }), initialState()) },
      { name: "our SELECT via pg + decode + fold", run: async () => decodeFold((await pool.query(byStream, [nextStream()])).rows) },
      { name: "ours: loadAggregate", run: () => ours.load(nextStream(), false) },
    ];
    const loadLat = new Map<string, number[]>(loads.map((v) => [v.name, []]));
    const loadCpu = new Map<string, number[]>(loads.map((v) => [v.name, []]));
    for (let r = 0; r < rounds; r++) {
      for (const v of rotated(loads, r)) {
        const c0 = process.cpuUsage();
        for (let i = 0; i < perRound; i++) {
          const t = now();
          await v.run("", [], 0);
          if (r > 0) loadLat.get(v.name)!.push(now() - t);
        }
        const c = process.cpuUsage(c0);
        if (r > 0) loadCpu.get(v.name)!.push((c.user + c.system) / 1000 / perRound);
      }
    }
    console.log("load a 100-event stream");
    for (const v of loads) {
      const c = loadCpu.get(v.name)!;
      console.log(`  ${v.name.padEnd(38)} ${stats(loadLat.get(v.name)!)}  client CPU ${(c.reduce((a, b) => a + b, 0) / c.length).toFixed(3)} ms/load`);
    }

    const pageSql = (order: string) =>
      `SELECT ${ourColumns} FROM events WHERE (transaction_id, global_position) > ($1::text::xid8, $2::bigint)
         AND transaction_id < pg_snapshot_xmin(pg_current_snapshot()) ORDER BY ${order} LIMIT 1000`;
    const replayWith = async (query: (sql: string, a: string, b: string) => Promise<{ event_type: string; event_version: number; data: unknown; transaction_id: string; global_position: unknown }[]>, order: string, decode: boolean) => {
      let tx = "0";
      let pos = "0";
      let n = 0;
      for (;;) {
        const rows = await query(pageSql(order), tx, pos);
        if (decode) for (const r of rows) benchRegistry.decode(r.event_type, r.event_version, r.data);
        n += rows.length;
        const last = rows.at(-1);
        if (last) {
          tx = last.transaction_id;
          pos = String(last.global_position);
        }
        if (rows.length < 1000) return n;
      }
    };
    const viaPg = async (sql: string, a: string, b: string) => (await pool.query(sql, [a, b])).rows;
    const viaPrisma = (sql: string, a: string, b: string) => ours.database.prisma.$queryRawUnsafe<never[]>(sql, a, b);
    const replays: { name: string; run: () => Promise<number> }[] = [
      { name: "raw: position order, SELECT *", run: async () => (await raw.replay(1000)).events },
      { name: "our SQL via pg", run: () => replayWith(viaPg, "events.transaction_id, events.global_position", false) },
      { name: "  + registry decode", run: () => replayWith(viaPg, "events.transaction_id, events.global_position", true) },
      { name: "  via Prisma + decode", run: () => replayWith(viaPrisma, "events.transaction_id, events.global_position", true) },
      { name: "ours: readAll", run: async () => (await ours.replay(1000)).events },
    ];
    console.log("replay (events/s; events read)");
    const rr = new Map<string, { rate: number[]; n: number }>(replays.map((v) => [v.name, { rate: [], n: 0 }]));
    for (let r = 0; r < 3; r++) {
      for (const v of rotated(replays, r)) {
        const t = now();
        const n = await v.run();
        const entry = rr.get(v.name)!;
        entry.n = n;
        if (r > 0) entry.rate.push(n / ((now() - t) / 1000));
      }
    }
    for (const v of replays) {
      const e = rr.get(v.name)!;
      console.log(`  ${v.name.padEnd(38)} ${Math.round(percentile(e.rate, 50)).toLocaleString("en-US").padStart(8)} events/s  (${e.n} events)`);
    }
  } finally {
    await ours.close();
    await raw.close();
    await pool.end();
    await dbs.drop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
