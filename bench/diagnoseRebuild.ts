// Row 6 A/B: the console's rebuild of the clinical read models with variants interleaved on one
// fresh database holding the bench's bulk-laid log, each round followed by the hand-written SQL
// rebuild, so every variant has a raw figure from the same minute. `npx tsx bench/diagnoseRebuild.ts`
// (VISITS=20000 lays down 200,000 events, ROUNDS=3, VARIANTS=a,b picks some; DATABASE_URL's
// server). Variants: the shadow's secondary indexes built before the replay (maintained row by
// row, as rebuilds did before 20261129050000_rebuild_deferred_indexes) or after it (today), and
// the batch size.
import pg from "pg";
import { openDatabase } from "../server/db/client";
import { migrate } from "../server/db/migrate";
import { storeFor } from "../server/api/context";
import { REBUILD_BATCH_SIZE, runRebuild, startRebuild } from "../server/projections/rebuild";
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
  const variants: Record<string, { batchSize: number; early: boolean }> = {
    "indexes-first": { batchSize: REBUILD_BATCH_SIZE, early: true },
    "indexes-after": { batchSize: REBUILD_BATCH_SIZE, early: false },
    "indexes-after-30k": { batchSize: 30_000, early: false },
  };
  const only = process.env.VARIANTS?.split(",");
  for (let round = 1; round <= Number(process.env.ROUNDS ?? 2); round++) {
    for (const [label, v] of Object.entries(variants)) {
      if (only && !only.includes(label)) continue;
      const t0 = performance.now();
      let n = 0;
      for (const projection of inlineProjections) {
        const started = await startRebuild(store, projection.name, { reason: "ab", userId: "ab", correlationId: "ab" });
        // "indexes-first": the indexes go onto the empty shadow before the first batch.
        let first = true;
        const r = await runRebuild(store, started, {
          batchSize: v.batchSize,
          beforeBatch: async () => {
            if (v.early && first) for (const t of projection.tables) await store.sql("SELECT projection_shadow_index($1) AS n", [t]);
            first = false;
          },
        });
        if (r.status !== "finished") throw new Error(String(r.error));
        n += r.eventsDone;
      }
      const s = (performance.now() - t0) / 1000;
      const t1 = performance.now();
      for (const st of rawSql) await pool.query(st);
      const rs = (performance.now() - t1) / 1000;
      for (const t of ["sql_patients", "sql_encounters", "sql_orders"]) await pool.query(`DROP TABLE ${t}`);
      console.log(`round ${round} ${label.padEnd(18)} ours ${(n / s).toFixed(0)} ev/s (${s.toFixed(2)} s)  raw ${(n / rs).toFixed(0)} ev/s (${rs.toFixed(2)} s)  ratio ${(rs / s).toFixed(2)}`);
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
