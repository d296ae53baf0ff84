import type { PrismaClient, Prisma } from "../db/generated/client";
import type { EventRegistry } from "./serializer";

/** The Prisma client or an interactive transaction on it (tests and command handlers pass one). */
export type Db = PrismaClient | Prisma.TransactionClient;

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
  return { code, detail: cause?.detail, message: cause?.originalMessage ?? e?.meta?.message ?? e?.message ?? String(error) };
}
