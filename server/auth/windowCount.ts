// A count per key in fixed windows, kept in the database so every instance shares it: the count
// starts again once its window has passed, however steadily attempts came. The per-account and
// per-address sign-in limits are two tables of it.
import type { Database } from "../db/client";

/** A table of counts: its name and its key and count columns (identifiers of ours, never input). */
export type WindowTable = { table: string; key: string; count: string };

export type WindowCount = { allowed: true } | { allowed: false; retryAfterSeconds: number };

/**
 * Counts one attempt under `key`; refused, with the seconds left in its window, once the window
 * holds more than `limit`. The first attempt of a new window prunes the rows of windows that
 * have passed (those older than `pruneAfterSeconds`, at least the window).
 */
export async function countInWindow(db: Database, t: WindowTable, key: string, limit: number, windowSeconds: number, pruneAfterSeconds = windowSeconds): Promise<WindowCount> {
  const rows = await db.prisma.$queryRawUnsafe<{ count: number; retry_after: number }[]>(
    `INSERT INTO ${t.table} AS w (${t.key}, ${t.count}, window_started_at) VALUES ($1, 1, now())
     ON CONFLICT (${t.key}) DO UPDATE SET
       ${t.count} = CASE WHEN w.window_started_at <= now() - make_interval(secs => $2) THEN 1 ELSE w.${t.count} + 1 END,
       window_started_at = CASE WHEN w.window_started_at <= now() - make_interval(secs => $2) THEN now() ELSE w.window_started_at END
     RETURNING ${t.count} AS count, ceil(extract(epoch FROM w.window_started_at + make_interval(secs => $2) - now()))::int AS retry_after`,
    key,
    windowSeconds,
  );
  const row = rows[0];
  if (row?.count === 1) {
    await db.prisma.$executeRawUnsafe(`DELETE FROM ${t.table} WHERE window_started_at <= now() - make_interval(secs => $1)`, Math.max(windowSeconds, pruneAfterSeconds));
  }
  if (row && row.count > limit) return { allowed: false, retryAfterSeconds: Math.max(1, row.retry_after) };
  return { allowed: true };
}

/** Takes back one attempt that turned out not to count. */
export async function uncount(db: Database, t: WindowTable, key: string): Promise<void> {
  await db.prisma.$executeRawUnsafe(`UPDATE ${t.table} SET ${t.count} = greatest(${t.count} - 1, 0) WHERE ${t.key} = $1`, key);
}
