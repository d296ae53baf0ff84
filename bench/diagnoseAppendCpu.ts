// Where an append's CPU goes, client and server, for one writer: `npx tsx bench/diagnose.ts --cpu`.
//
// Wall-clock latency on a shared 2-core machine moves by 2× between rounds; CPU time moves far
// less. Each variant runs on a pool of one connection, so its PostgreSQL backend is one process
// whose CPU time (/proc/<pid>/schedstat, nanoseconds) is read before and after the variant's
// appends: server CPU per append, beside this process's own (process.cpuUsage). The figures are
// the minimum over interleaved rounds. The server must be on this machine (it is for the bench).
import { readFileSync } from "node:fs";
import pg from "pg";
import type { NewEvent } from "../server/eventStore/types";
import { rawColumns } from "./contenders/raw";
import { batchFor, newStreamId } from "./lib/events";
import { now, percentile, rotated } from "./lib/stats";

export type CpuVariant = {
  name: string;
  /** The backend the variant's statements run on (its pool holds one connection). */
  backendPid: () => Promise<number>;
  run: (streamId: string, events: NewEvent[], expected: number) => Promise<unknown>;
};

/** PostgreSQL's backend pid through a pg pool of one connection. */
export const pidOf = (pool: pg.Pool) => async () => (await pool.query<{ pid: number }>("SELECT pg_backend_pid() AS pid")).rows[0]!.pid;

const cpuNs = (pid: number): number | null => {
  try {
    return Number(readFileSync(`/proc/${pid}/schedstat`, "utf8").split(" ")[0]);
  } catch {
    return null;
  }
};

export async function measureAppendCpu(variants: CpuVariant[], options: { rounds: number; appends: number; batch: number }): Promise<void> {
  const best = new Map<string, { client: number; server: number | null; wall: number[] }>(
    variants.map((v) => [v.name, { client: Infinity, server: Infinity, wall: [] }]),
  );
  for (let r = 0; r < options.rounds; r++) {
    for (const variant of rotated(variants, r)) {
      // Asked each time: a pool replaces a connection that sat idle too long.
      const pid = await variant.backendPid();
      let id = newStreamId();
      let version = 0;
      const wall: number[] = [];
      const s0 = cpuNs(pid);
      const c0 = process.cpuUsage();
      for (let i = 0; i < options.appends; i++) {
        if (version + options.batch > 100) {
          id = newStreamId();
          version = 0;
        }
        const batch = batchFor(id, version, options.batch);
        const t = now();
        await variant.run(id, batch, version);
        wall.push(now() - t);
        version += options.batch;
      }
      const c = process.cpuUsage(c0);
      const s1 = cpuNs(pid);
      if (r === 0) continue; // warm-up: connections, plans, caches
      const entry = best.get(variant.name)!;
      entry.client = Math.min(entry.client, (c.user + c.system) / options.appends);
      entry.server = s0 === null || s1 === null || entry.server === null ? null : Math.min(entry.server, (s1 - s0) / 1000 / options.appends);
      entry.wall.push(...wall);
    }
  }
  console.log(`\nappend ${options.batch} events, one writer: CPU per append (µs, best of ${options.rounds - 1} rounds × ${options.appends}) and wall p50`);
  console.log(`  ${"variant".padEnd(44)} ${"client".padStart(7)} ${"server".padStart(7)} ${"total".padStart(7)} ${"wall p50 ms".padStart(12)}`);
  for (const v of variants) {
    const e = best.get(v.name)!;
    const server = e.server === null ? "n/a" : e.server.toFixed(0);
    const total = e.server === null ? "n/a" : (e.client + e.server).toFixed(0);
    console.log(`  ${v.name.padEnd(44)} ${e.client.toFixed(0).padStart(7)} ${server.padStart(7)} ${total.padStart(7)} ${percentile(e.wall, 50).toFixed(3).padStart(12)}`);
  }
}

/**
 * What each index variant costs an append of `batch` events, server CPU, as appends pay it: one
 * statement per append (the raw contender's CTE) into a copy of `events` with the primary key
 * and the variant's indexes, a transaction each. Unlike the bulk insert of diagnoseIndexes.ts,
 * this includes what an index costs per statement whatever the batch size (opening and locking
 * it, its executor state), which a 5-event append pays in full.
 */
export async function measureIndexCostsPerAppend(
  url: string,
  variants: { name: string; indexes: string[] }[],
  statements: { create: string; append: string },
  options: { rounds: number; appends: number; batch: number },
): Promise<void> {
  const pools: pg.Pool[] = [];
  const cpuVariants: CpuVariant[] = [];
  try {
    for (const [i, variant] of variants.entries()) {
      const table = `index_probe_${i}`;
      const pool = new pg.Pool({ connectionString: url, max: 1 });
      pool.on("error", () => {});
      pools.push(pool);
      await pool.query(`DROP TABLE IF EXISTS ${table}`);
      await pool.query(`CREATE TABLE ${table} (LIKE events INCLUDING DEFAULTS INCLUDING IDENTITY, PRIMARY KEY (global_position))`);
      for (const def of variant.indexes) await pool.query(def.replace(/ ON index_probe /, ` ON ${table} `));
      const create = statements.create.replaceAll("raw_events", table);
      const append = statements.append.replaceAll("raw_events", table);
      cpuVariants.push({
        name: variant.name,
        backendPid: pidOf(pool),
        run: (id, ev, v) => {
          const values = [id, "patient", ev.length, ...rawColumns(ev)];
          return v === 0
            ? pool.query({ name: "probe_create", text: create, values })
            : pool.query({ name: "probe_append", text: append, values: [...values, v] });
        },
      });
    }
    await measureAppendCpu(cpuVariants, options);
  } finally {
    for (const [i, pool] of pools.entries()) {
      await pool.query(`DROP TABLE IF EXISTS index_probe_${i}`).catch(() => {});
      await pool.end();
    }
  }
}

