// Row 6 A/B: the console's rebuild of the clinical read models with variants interleaved on one
// fresh database holding the bench's bulk-laid log, each round followed by the hand-written SQL
// rebuild, so every variant has a raw figure from the same minute. `npx tsx bench/diagnoseRebuild.ts`
// (VISITS=20000 lays down 200,000 events, ROUNDS=3, VARIANTS=a,b picks some; DATABASE_URL's
// server). Variants: the three rebuilt one after another (a reading of the log each) or together
// (runRebuilds: one reading for the three, what the bench's row runs). Each
// line also gives the CPU time it took: this process's, and that of the database's backends
// (from /proc, when the server runs on this machine), against the SQL rebuild's backends: on a
// loaded machine the CPU ratio moves less than the wall-clock one.
import pg from "pg";
import { readFileSync } from "node:fs";
import { openDatabase } from "../server/db/client";
import { migrate } from "../server/db/migrate";
import { storeFor } from "../server/api/context";
import { REBUILD_BATCH_SIZE, runRebuilds, startRebuilds } from "../server/projections/rebuild";
import { inlineProjections } from "../server/projections/registry";
import { fixtureSql, LATER, rawSql } from "./workloads/projectionRebuild";
import { installStockParsers } from "./lib/pgTypes";

const server = new URL(process.env.DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres");
const name = `rebuild2_ab_${Date.now().toString(36)}`;
const admin = new pg.Client({ connectionString: server.toString() });
await admin.connect();
await admin.query(`CREATE DATABASE ${name}`);
server.pathname = `/${name}`;
const url = server.toString();
const db = await openDatabase({ url, poolMax: 4 });
try {
  await migrate(db);
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  const visits = Number(process.env.VISITS ?? 20000);
  const keys = (visits + LATER) * 10;
  for (let from = 0; from < keys; from += 100_000) await pool.query(fixtureSql(visits, from, Math.min(keys - 1, from + 99_999)));
  await pool.query("ANALYZE events");
  installStockParsers();
  const store = storeFor(db);
  const variants: Record<string, { batchSize: number; together: boolean }> = {
    separate: { batchSize: REBUILD_BATCH_SIZE, together: false },
    together: { batchSize: REBUILD_BATCH_SIZE, together: true },
  };
  // CPU seconds of this database's backends, by pid (sampled: a backend's last figure stays).
  const backends = new Map<number, number>();
  const sample = async () => {
    const { rows } = await admin.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE datname = $1", [name]);
    for (const { pid } of rows) {
      try {
        const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
        backends.set(pid, (Number(fields[11]) + Number(fields[12])) / 100);
      } catch {
        // not on this machine, or gone
      }
    }
    return [...backends.values()].reduce((a, b) => a + b, 0);
  };
  const only = process.env.VARIANTS?.split(",");
  for (let round = 1; round <= Number(process.env.ROUNDS ?? 2); round++) {
    for (const [label, v] of Object.entries(variants)) {
      if (only && !only.includes(label)) continue;
      const sampling = setInterval(() => void sample(), 200);
      const pg0 = await sample();
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      let n = 0;
      const groups = v.together ? [inlineProjections] : inlineProjections.map((p) => [p]);
      for (const group of groups) {
        const started = await startRebuilds(store, group.map((p) => p.name), { reason: "ab", userId: "ab", correlationId: "ab" });
        for (const r of await runRebuilds(store, started, { batchSize: v.batchSize })) {
          if (r.status !== "finished") throw new Error(String(r.error));
          n += r.eventsDone;
        }
      }
      const s = (performance.now() - t0) / 1000;
      const cpu = process.cpuUsage(cpu0);
      const oursCpu = (cpu.user + cpu.system) / 1e6 + (await sample()) - pg0;
      clearInterval(sampling);
      const raw0 = await sample();
      const t1 = performance.now();
      for (const st of rawSql) await pool.query(st);
      const rs = (performance.now() - t1) / 1000;
      const rawCpu = (await sample()) - raw0;
      for (const t of ["sql_patients", "sql_encounters", "sql_orders"]) await pool.query(`DROP TABLE ${t}`);
      console.log(
        `round ${round} ${label.padEnd(14)} ours ${(n / s).toFixed(0)} ev/s (${s.toFixed(2)} s, cpu ${oursCpu.toFixed(2)} s)  raw ${(n / rs).toFixed(0)} ev/s (${rs.toFixed(2)} s, cpu ${rawCpu.toFixed(2)} s)  ratio ${(rs / s).toFixed(2)}  cpu ratio ${(rawCpu / oursCpu).toFixed(2)}  load ${(await import("node:os")).loadavg()[0]!.toFixed(1)}`,
      );
    }
  }
  await pool.end();
} finally {
  await db.close();
  // The store's pool may still hold an idle connection that the drop terminates.
  process.on("uncaughtException", (error) => {
    if (!/terminating connection/.test(String(error))) throw error;
  });
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.end();
}
