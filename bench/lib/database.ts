// Each run gets fresh databases next to DATABASE_URL and drops them at the end, also on Ctrl-C
// or failure: one for ours and the raw baseline (their own tables), one for the peer, whose
// schema (emt_*) is its own.
import pg from "pg";
import { onCleanup } from "./cleanup";

export type BenchDatabases = { oursUrl: string; peerUrl: string; drop(): Promise<void> };

function withDatabase(base: string, name: string): string {
  const url = new URL(base);
  url.pathname = `/${name}`;
  return url.toString();
}

async function admin<T>(base: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: base });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export async function createBenchDatabases(base: string): Promise<BenchDatabases> {
  const stem = `emr_bench_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 6)}`;
  const names = [stem, `${stem}_peer`];
  await admin(base, async (c) => {
    for (const name of names) await c.query(`CREATE DATABASE ${name}`);
  });
  let dropped = false;
  return {
    oursUrl: withDatabase(base, names[0]!),
    peerUrl: withDatabase(base, names[1]!),
    async drop() {
      if (dropped) return;
      dropped = true;
      await admin(base, async (c) => {
        for (const name of names) await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      });
    },
  };
}

/**
 * What a database server does after a burst of writes, done before a timed read: a CHECKPOINT
 * (where the role may), then a wait until no autovacuum worker runs on the run's databases (a
 * minute at most). Returns what it could not do, for the row's note.
 */
export async function settleServer(url: string): Promise<string[]> {
  return admin(url, async (c) => {
    const missed: string[] = [];
    try {
      await c.query("CHECKPOINT");
    } catch (error) {
      if ((error as { code?: string }).code !== "42501") throw error;
      missed.push("no CHECKPOINT: the role may not run one");
    }
    for (const until = Date.now() + 60_000; ; ) {
      // On the run's own databases (the peer's and the side ones are named after ours'), not on
      // whatever else the server holds.
      const { rows } = await c.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'autovacuum worker' AND starts_with(datname, current_database())",
      );
      if (rows[0]!.n === 0) break;
      if (Date.now() > until) {
        missed.push("an autovacuum worker still ran after a minute");
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    return missed;
  });
}

/** host:port/database, without credentials. */
export function describeUrl(url: string): string {
  const u = new URL(url);
  return `${u.hostname}:${u.port || "5432"}${u.pathname}`;
}

/**
 * One more database next to `url` (named after it, with `suffix`), migrated, for a row whose log
 * must not weigh on the others' (the scale rows); dropped when the run ends, however it ends.
 */
export async function sideDatabase(url: string, suffix: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `${new URL(url).pathname.slice(1)}_${suffix}`;
  // Through the maintenance database: a connection to the bench's own would be cut when that one
  // is dropped WITH (FORCE), and the cleanups may run side by side on Ctrl-C.
  const maintenance = withDatabase(url, "postgres");
  await admin(maintenance, (c) => c.query(`CREATE DATABASE ${name}`));
  let dropped = false;
  const drop = async () => {
    if (dropped) return;
    dropped = true;
    await admin(maintenance, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
  };
  onCleanup(`drop ${name}`, drop);
  return { url: withDatabase(url, name), drop };
}
