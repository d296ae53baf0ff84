// What each secondary index on `events` costs an append: `npx tsx bench/diagnose.ts --indexes`.
//
// Throughput with and without an index (8 writers, as bench row 2) was tried first and told
// nothing on a shared 2-core machine: rounds of one variant differed by 2×, more than the whole
// set of secondary indexes costs. So this measures the index maintenance itself, in one session
// on the server: the same rows (the log the appends wrote, with fresh ids) inserted in bulk into
// a copy of `events` that carries only its primary key plus the variant's indexes. The cost of an
// index is the variant's time minus the bare table's, per event; times are the minimum over
// interleaved repetitions (the run least disturbed by other load), and the variants' order
// rotates per repetition.
import type pg from "pg";
import { rotated } from "./lib/stats";

export type IndexVariant = { name: string; indexes: string[] };

/** The secondary indexes of `events` (not the keys), as the migrations leave them, and the keys. */
async function eventIndexes(pool: pg.Pool): Promise<{ name: string; def: string; key: boolean }[]> {
  const { rows } = await pool.query<{ name: string; def: string; key: boolean }>(
    `SELECT c.relname AS name, pg_get_indexdef(i.indexrelid) AS def, i.indisunique AS key
       FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
      WHERE i.indrelid = 'events'::regclass AND NOT i.indisprimary
      ORDER BY c.relname`,
  );
  return rows;
}

/** An index definition of `events` pointed at the probe table. */
const onProbe = (def: string) => def.replace(/^CREATE (UNIQUE )?INDEX \S+ ON (public\.)?events /, "CREATE INDEX ON index_probe ");

export async function indexVariants(pool: pg.Pool, extra: IndexVariant[]): Promise<IndexVariant[]> {
  const all = await eventIndexes(pool);
  return [
    { name: "bare table (primary key only)", indexes: [] },
    ...all.map((i) => ({ name: `+ ${i.name}${i.key ? " (key)" : ""}`, indexes: [onProbe(i.def)] })),
    { name: "as migrated (all of the above)", indexes: all.map((i) => onProbe(i.def)) },
    ...extra,
  ];
}

export async function measureIndexCosts(pool: pg.Pool, variants: IndexVariant[], options: { repetitions: number; rows: number }): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query("DROP TABLE IF EXISTS index_probe, index_probe_rows");
    await client.query("CREATE TABLE index_probe (LIKE events INCLUDING DEFAULTS INCLUDING IDENTITY, PRIMARY KEY (global_position))");
    // The rows the appends wrote, as they are (realistic keys), repeated up to the row count.
    await client.query(
      `CREATE TABLE index_probe_rows AS
         SELECT e.* FROM generate_series(1, greatest(1, ceil($1::numeric / greatest((SELECT count(*) FROM events), 1)))::int) g, events e
          LIMIT $1`,
      [options.rows],
    );
    const rows = Number((await client.query("SELECT count(*) AS n FROM index_probe_rows")).rows[0].n);
    const columns = `stream_id, aggregate_type, event_type, version, event_version, data, metadata, occurred_at, recorded_at,
                     user_id, correlation_id, causation_id, transaction_id, hash`;
    const best = new Map<string, number>();
    for (let r = 0; r < options.repetitions; r++) {
      for (const variant of rotated(variants, r)) {
        await client.query("TRUNCATE index_probe");
        for (const def of variant.indexes) await client.query(def);
        const t0 = performance.now();
        // Fresh event ids, streams and correlation ids, as new appends would bring.
        await client.query(
          `INSERT INTO index_probe (event_id, ${columns})
           SELECT gen_random_uuid(), ${columns.replace("stream_id", "stream_id || '-' || $1::text")} FROM index_probe_rows`,
          [String(r)],
        );
        const ms = performance.now() - t0;
        best.set(variant.name, Math.min(best.get(variant.name) ?? Infinity, ms));
        const { rows: made } = await client.query<{ name: string }>(
          "SELECT indexrelid::regclass::text AS name FROM pg_index WHERE indrelid = 'index_probe'::regclass AND NOT indisprimary",
        );
        for (const { name } of made) await client.query(`DROP INDEX ${name}`);
      }
    }
    const bare = best.get(variants[0]!.name)!;
    console.log(`\nindex maintenance per event (${rows.toLocaleString("en-US")} rows inserted in one statement, best of ${options.repetitions})`);
    console.log(`  ${"variant".padEnd(56)} ${"insert ms".padStart(9)}  ${"µs/event over bare".padStart(18)}  ${"× 5 (one append)".padStart(16)}`);
    for (const v of variants) {
      const ms = best.get(v.name)!;
      const perEvent = ((ms - bare) * 1000) / rows;
      console.log(`  ${v.name.padEnd(56)} ${ms.toFixed(0).padStart(9)}  ${perEvent.toFixed(2).padStart(18)}  ${(perEvent * 5).toFixed(1).padStart(16)}`);
    }
    // Beside the indexes, the other per-event cost of append_to_stream on the server: the tamper
    // evidence's hash chain (event_hash, 20261128080000), over the same rows.
    const hashSql = `SELECT count(event_hash(hash, event_id, stream_id, version, event_type, event_version, data, metadata,
                                             occurred_at, recorded_at, user_id, correlation_id, causation_id)) FROM index_probe_rows`;
    let hashMs = Infinity;
    for (let r = 0; r < options.repetitions; r++) {
      const t0 = performance.now();
      await client.query(hashSql);
      hashMs = Math.min(hashMs, performance.now() - t0);
    }
    const perHash = (hashMs * 1000) / rows;
    console.log(`\nevent_hash (the hash chain) per event, same rows: ${perHash.toFixed(2)} µs (${(perHash * 5).toFixed(1)} µs per append of 5)`);
  } finally {
    await client.query("DROP TABLE IF EXISTS index_probe, index_probe_rows").catch(() => {});
    client.release();
  }
  // Bytes each index holds per event: what an append writes into it.
  const { rows } = await pool.query<{ name: string; per_event: string; method: string }>(
    `SELECT c.relname AS name, am.amname AS method,
            round(pg_relation_size(c.oid)::numeric / greatest((SELECT count(*) FROM events), 1), 1)::text AS per_event
       FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam
      WHERE i.indrelid = 'events'::regclass ORDER BY c.relname`,
  );
  console.log("\nindex bytes per event in `events` (after the appends)");
  for (const r of rows) console.log(`  ${r.name.padEnd(44)} ${r.method.padEnd(6)} ${r.per_event.padStart(7)} B`);
}
