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
