import type { PrismaClient, Prisma } from "../db/generated/client";
import type { EventRegistry } from "./serializer";

/** The Prisma client or an interactive transaction on it (tests and command handlers pass one). */
export type Db = PrismaClient | Prisma.TransactionClient;

/** What every store function needs: where to read and write, and how to (de)serialize. */
export type Store = { db: Db; registry: EventRegistry };

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
