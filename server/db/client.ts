// The database: PostgreSQL through @prisma/adapter-pg when DATABASE_URL is set, otherwise the
// embedded PGlite under .data/, in-process through one adapter (PGlite is a single session, so
// one process must own it).
import { PrismaPg } from "@prisma/adapter-pg";
import { PGlite } from "@electric-sql/pglite";
import { PrismaPGlite } from "pglite-prisma-adapter";
import pg from "pg";
import { mkdirSync } from "node:fs";
import { PrismaClient } from "./generated/client";
import { env } from "./env";
import { migrate } from "./migrate";
import { attachDriver } from "../eventStore/db";

export type DatabaseMode = "postgresql" | "embedded";

export type Database = {
  prisma: PrismaClient;
  mode: DatabaseMode;
  /** Runs a multi-statement SQL script (migrations) on one session. */
  withSession<T>(fn: (session: SqlSession) => Promise<T>): Promise<T>;
  /** Where the data lives, without credentials. */
  location: string;
  close(): Promise<void>;
};

/** A single database session for scripts and advisory locks. */
export type SqlSession = {
  query<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<R[]>;
  exec(script: string): Promise<void>;
};

export type OpenOptions = { url?: string; dataDir?: string; poolMax?: number };

function redact(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || "5432"}${u.pathname}`;
  } catch {
    return "postgresql";
  }
}

export async function openDatabase(options: OpenOptions = {}): Promise<Database> {
  if (options.url) return openPostgres(options.url, options.poolMax ?? 10);
  return openEmbedded(options.dataDir ?? "memory://");
}

function openPostgres(url: string, poolMax: number): Database {
  const pool = new pg.Pool({ connectionString: url, max: poolMax });
  // An idle client's network error must not crash the process; the pool replaces it.
  pool.on("error", () => {});
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  attachDriver(prisma, async (text, params) => (await pool.query(text, params as unknown[])).rows);
  return {
    prisma,
    mode: "postgresql",
    location: redact(url),
    async withSession(fn) {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        return await fn({
          query: async (sql, params) => (await client.query(sql, params)).rows,
          exec: async (script) => void (await client.query(script)),
        });
      } finally {
        await client.end();
      }
    },
    async close() {
      await prisma.$disconnect();
      await pool.end();
    },
  };
}

async function openEmbedded(dataDir: string): Promise<Database> {
  if (!dataDir.startsWith("memory://")) mkdirSync(dataDir, { recursive: true });
  const client = await PGlite.create(dataDir);
  const prisma = new PrismaClient({ adapter: new PrismaPGlite(client) });
  // PGlite's query() waits for any open transaction, so a direct statement never lands inside one.
  attachDriver(prisma, async (text, params) => (await client.query(text, params as unknown[])).rows as never);
  return {
    prisma,
    mode: "embedded",
    location: dataDir.startsWith("memory://") ? "in memory" : dataDir,
    async withSession(fn) {
      return fn({
        query: async (sql, params) => (await client.query(sql, params)).rows as never,
        exec: async (script) => void (await client.exec(script)),
      });
    },
    async close() {
      await prisma.$disconnect();
      await client.close();
    },
  };
}

const globalKey = Symbol.for("emr.database");
type GlobalWithDb = typeof globalThis & { [globalKey]?: Promise<Database> };

/**
 * The process-wide database, opened from the environment on first use. Kept on globalThis so
 * that Next's separately bundled server layers share one PGlite instance.
 */
export function getDatabase(): Promise<Database> {
  const g = globalThis as GlobalWithDb;
  g[globalKey] ??= (async () => {
    const e = env();
    const db = await openDatabase({ url: e.DATABASE_URL, dataDir: e.PGLITE_DIR, poolMax: e.DB_POOL_MAX });
    // Cheap when up to date: one advisory lock and one read of _prisma_migrations.
    await migrate(db);
    return db;
  })();
  g[globalKey].catch(() => {
    // A failed open is not cached: the next request tries again.
    delete g[globalKey];
  });
  return g[globalKey];
}
