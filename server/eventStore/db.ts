import type { PrismaClient, Prisma } from "../db/generated/client";
import type { EventRegistry } from "./serializer";
import type { KeyRing } from "./phi";

/** The Prisma client or an interactive transaction on it (tests and command handlers pass one). */
export type Db = PrismaClient | Prisma.TransactionClient;

/**
 * Runs one parameterized statement and returns its rows. Every runner maps types the same way:
 * int8 as bigint, timestamptz as Date, jsonb parsed, xid8 and uuid as text when cast.
 * `name` asks for a prepared statement kept per connection (the pg pool does, others ignore it):
 * only for a fixed text run on every request, such as the append, which then skips parsing
 * and planning its call each time.
 */
export type SqlRunner = <R>(text: string, params: readonly unknown[], options?: { name?: string }) => Promise<R[]>;

/** Prisma's raw query on a client or transaction: int8 comes back as bigint. */
export function prismaRunner(db: Db): SqlRunner {
  return <R>(text: string, params: readonly unknown[]) => db.$queryRawUnsafe<R[]>(text, ...params);
}

/**
 * A database session of its own, held for the length of a long task (a rebuild), for locks that
 * must end with their holder. On PostgreSQL a connection of its own with session advisory locks:
 * the server releases them when the connection dies, kill -9 of its process included. On the
 * embedded database, locks of this process (the only one on its folder).
 */
export type HeldSession = {
  /** Takes the lock named `key` if no live holder has it; answers whether it did. */
  tryLock(key: string): Promise<boolean>;
  /** Whether the session ended under its holder (the connection broke): its locks are gone. */
  lost(): boolean;
  /** Ends the session, releasing its locks. */
  close(): Promise<void>;
};

/**
 * What every store function needs: where to read and write, and how to (de)serialize.
 * `sql` runs the store's statements. Outside a transaction the database layer hands in its
 * driver (pg pool or PGlite): Prisma's raw pipeline costs about as much client CPU as a whole
 * append (~130 µs a call against ~40 µs for pg). Inside a transaction it is the transaction.
 */
export type Store = {
  db: Db;
  sql: SqlRunner;
  /**
   * `sql` for a statement that may rightly outlast the app's statement bound
   * (DB_STATEMENT_TIMEOUT_SECONDS): a scan of the whole log, an index build, an extract's page.
   * Absent (inside a transaction, in tests): `sql`.
   */
  longSql?: SqlRunner;
  registry: EventRegistry;
  /** PHI data keys (phi.ts); absent: the key ring of the database `keyScope` names (phiKey.ts keyRingFor). */
  phi?: KeyRing;
  /**
   * The database the store is on (its Prisma client, also on its transactions' stores): data
   * keys are that database's rows, so it has a key ring of its own. Absent: the process's ring.
   */
  keyScope?: object;
  /** Decoded payloads remember the form they were stored in (protect.ts storedFormOf): the outbox publishes that. */
  keepSealed?: boolean;
  /**
   * On a transaction's store: the data keys this transaction created or read back uncommitted,
   * used again within it (a registration's fingerprint and its append need the same new key)
   * and never cached beyond it, since a rollback would leave a key that was never stored.
   */
  ownKeys?: Map<string, Buffer>;
  /** Runs fn in one transaction (absent when `db` already is one: then fn runs on it). */
  transaction?: <T>(fn: (tx: Store) => Promise<T>) => Promise<T>;
  /** Opens a session of its own for locks that die with their holder (absent inside a transaction). */
  holdSession?: () => Promise<HeldSession>;
};

/** The database as the store needs it: Prisma for transactions, the driver for single statements. */
export type StoreDatabase = { prisma: PrismaClient; sql: SqlRunner; longSql?: SqlRunner; holdSession?: () => Promise<HeldSession> };

/** The store on a transaction: every statement goes through it. */
const transactionScopes = new WeakMap<object, object>();

/** The database a store is on, for its key ring: its own, or its transaction's (a store made on a bare transaction). */
export function keyScopeOf(store: Partial<Pick<Store, "keyScope" | "db">>): object | undefined {
  return store.keyScope ?? (store.db ? transactionScopes.get(store.db) : undefined);
}

export function storeIn(store: Pick<Store, "registry" | "phi" | "keyScope">, tx: Db): Store {
  if (store.keyScope) transactionScopes.set(tx, store.keyScope);
  return {
    db: tx,
    sql: prismaRunner(tx),
    registry: store.registry,
    ownKeys: new Map(),
    ...(store.phi ? { phi: store.phi } : {}),
    ...(store.keyScope ? { keyScope: store.keyScope } : {}),
  };
}

/** A store on a database, with interactive transactions for append + inline read models. */
export function storeOn(database: StoreDatabase, registry: EventRegistry, phi?: KeyRing): Store {
  const keyScope = database.prisma;
  return {
    db: database.prisma,
    sql: database.sql,
    ...(database.longSql ? { longSql: database.longSql } : {}),
    registry,
    ...(phi ? { phi } : {}),
    keyScope,
    transaction: (fn) =>
      database.prisma.$transaction((tx) => fn(storeIn({ registry, phi, keyScope }, tx)), { timeout: 15_000, maxWait: 10_000 }),
    ...(database.holdSession ? { holdSession: database.holdSession } : {}),
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

/** A serialization failure (40001) or deadlock (40P01): the whole transaction may be retried. */
export function isRetryableTransactionError(error: unknown): boolean {
  const code = pgErrorInfo(error).code;
  return code === "40001" || code === "40P01";
}

/**
 * Runs `write` in a transaction that waits at most `lockWaitMs` for a lock (lock_timeout), for
 * best-effort bookkeeping (metric minutes, sealer status): a session holding the table (a DBA's
 * LOCK TABLE, a long maintenance statement) must not keep a worker or a script from going on.
 * Given a transaction, it runs there as it is (the caller's settings are the caller's).
 */
export async function withBoundedLockWait(db: Db, lockWaitMs: number, write: (tx: Db) => Promise<unknown>): Promise<void> {
  if (!("$transaction" in db)) {
    await write(db);
    return;
  }
  await db.$transaction(async (tx) => {
    await prismaRunner(tx)("SELECT set_config('lock_timeout', $1, true)", [`${lockWaitMs}ms`]);
    await write(tx);
  });
}
