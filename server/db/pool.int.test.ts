// The app's PostgreSQL pool keeps its idle connections unless told otherwise (DB_POOL_IDLE_SECONDS).
// pg's own default closes them after 10 s; the burst after a quiet spell then met up to
// DB_POOL_MAX cold backends at once (client.ts). Each case holds several connections at once,
// notes their backend pids, lets them sit idle, and asks the server which of them still exist.
import pg from "pg";
import { describe, expect, it } from "vitest";
import { openDatabase, type Database } from "./client";
import { parseEnv } from "./env";
import { pgOwnerUrl, pgUrl } from "../testing/db";

/** The backends that served `n` statements running at the same time (so n connections of the pool). */
async function backendsInUse(db: Database, n: number): Promise<number[]> {
  const rows = await Promise.all(
    Array.from({ length: n }, () => db.sql<{ pid: number }>("SELECT pg_backend_pid() AS pid FROM pg_sleep(0.2)", [])),
  );
  return [...new Set(rows.map((r) => r[0]!.pid))];
}

async function stillConnected(pids: number[]): Promise<number[]> {
  const admin = new pg.Client({ connectionString: pgOwnerUrl ?? pgUrl! });
  await admin.connect();
  try {
    const { rows } = await admin.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE pid = ANY ($1)", [pids]);
    return rows.map((r) => r.pid).sort();
  } finally {
    await admin.end();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!pgUrl)("the app's pool and idle connections [postgresql]", () => {
  it("keeps idle connections by default, past pg's own 10 s", { timeout: 30_000 }, async () => {
    expect(parseEnv({ DATABASE_URL: pgUrl! }).DB_POOL_IDLE_SECONDS).toBe(0);
    const db = await openDatabase({ url: pgUrl!, poolMax: 4 });
    try {
      const pids = await backendsInUse(db, 4);
      expect(pids).toHaveLength(4);
      await sleep(11_500);
      expect(await stillConnected(pids)).toEqual([...pids].sort());
      // And they serve again without a new connection.
      expect((await backendsInUse(db, 4)).sort()).toEqual([...pids].sort());
    } finally {
      await db.close();
    }
  });

  it("replaces kept connections that the server ended (a restart, pg_terminate_backend)", { timeout: 30_000 }, async () => {
    const db = await openDatabase({ url: pgUrl!, poolMax: 4 });
    const admin = new pg.Client({ connectionString: pgOwnerUrl ?? pgUrl! });
    await admin.connect();
    try {
      const pids = await backendsInUse(db, 4);
      await admin.query("SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid", [pids]);
      for (const deadline = Date.now() + 5_000; Date.now() < deadline && (await stillConnected(pids)).length > 0; ) await sleep(100);
      // The pool hears each ended connection and drops it: the next statements get new ones.
      await sleep(200);
      const fresh = await backendsInUse(db, 4);
      expect(fresh).toHaveLength(4);
      expect(fresh.filter((pid) => pids.includes(pid))).toEqual([]);
    } finally {
      await admin.end();
      await db.close();
    }
  });

  it("closes idle connections after DB_POOL_IDLE_SECONDS when it is set", { timeout: 30_000 }, async () => {
    expect(parseEnv({ DATABASE_URL: pgUrl!, DB_POOL_IDLE_SECONDS: "1" }).DB_POOL_IDLE_SECONDS).toBe(1);
    const db = await openDatabase({ url: pgUrl!, poolMax: 4, poolIdleSeconds: 1 });
    try {
      const pids = await backendsInUse(db, 4);
      expect(pids).toHaveLength(4);
      for (const deadline = Date.now() + 5_000; Date.now() < deadline && (await stillConnected(pids)).length > 0; ) await sleep(200);
      expect(await stillConnected(pids)).toEqual([]);
    } finally {
      await db.close();
    }
  });
});
