import type { PrismaClient, Prisma } from "../db/generated/client";
import type { EventRegistry } from "./serializer";

/** The Prisma client or an interactive transaction on it (tests and command handlers pass one). */
export type Db = PrismaClient | Prisma.TransactionClient;

/** Runs one parameterized statement and returns its rows. */
export type SqlRunner = <R>(text: string, params: readonly unknown[]) => Promise<R[]>;

// Driver-level runners for root Prisma clients. Prisma's raw-query pipeline costs about as much
// client CPU as a whole append (measured ~130 µs a call against ~40 µs for pg itself), so the
// store's statements go to the driver when they run outside a transaction. A transaction
// client is never in this map: inside one, every statement goes through Prisma's transaction.
const fastRunners = new WeakMap<object, SqlRunner>();

/** Lets the store reach the driver (pg pool or PGlite) directly when `prisma` is used outside a transaction. */
export function attachDriver(prisma: PrismaClient, run: SqlRunner): void {
  fastRunners.set(prisma, run);
}

/** The runner for this db: the driver for a root client that has one, Prisma's raw query otherwise. */
export function sqlOf(db: Db): SqlRunner {
  return fastRunners.get(db) ?? (<R>(text: string, params: readonly unknown[]) => db.$queryRawUnsafe<R[]>(text, ...params));
}

/** What every store function needs: where to read and write, and how to (de)serialize. */
export type Store = {
  db: Db;
  registry: EventRegistry;
  /** Runs fn in one transaction (absent when `db` already is one: then fn runs on it). */
  transaction?: <T>(fn: (tx: Db) => Promise<T>) => Promise<T>;
};

/** A store on a Prisma client, with interactive transactions for append + inline read models. */
export function storeOn(prisma: PrismaClient, registry: EventRegistry): Store {
  return {
    db: prisma,
    registry,
    transaction: (fn) => prisma.$transaction((tx) => fn(tx), { timeout: 15_000, maxWait: 10_000 }),
  };
}

/** The SQLSTATE and DETAIL of a database error, wherever the driver adapter put them. */
export function pgErrorInfo(error: unknown): { code?: string; detail?: string; message: string } {
  const e = error as {
    code?: string;
    message?: string;
    meta?: { code?: string; message?: string; driverAdapterError?: { cause?: { originalCode?: string; code?: string; detail?: string; originalMessage?: string } } };
    cause?: { originalCode?: string; code?: string; detail?: string; originalMessage?: string };
  };
  const cause = e?.meta?.driverAdapterError?.cause ?? e?.cause;
  const code = cause?.originalCode ?? e?.meta?.code ?? (typeof e?.code === "string" && e.code.length === 5 ? e.code : undefined);
  // Errors straight from the driver (pg, PGlite) carry detail on themselves.
  const detail = cause?.detail ?? (error as { detail?: string })?.detail;
  return { code, detail, message: cause?.originalMessage ?? e?.meta?.message ?? e?.message ?? String(error) };
}
