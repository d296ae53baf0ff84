// The log's commit order is PostgreSQL's transaction id (events.transaction_id, xid8): readers in
// commit order (projections, the audit sealer, audit:verify) go up to the oldest
// transaction still running. A logical backup (pg_dump) restored onto another server keeps the
// events' transaction ids but not the server's counter, which starts again from where that
// server is: every event written there afterwards would sort BEFORE the restored ones, readers
// that had passed them would never see them, and the seals would no longer cover what they
// covered. Nothing would say so. So every process checks at start-up that the log is behind the
// server's next transaction id, and refuses to run with what to do.
import type { SqlRunner } from "./client";

export class LogAheadOfServerError extends Error {
  override readonly name = "LogAheadOfServerError";
}

/** The next multiple of 2^20 above `xid8`'s 32-bit part, as pg_resetwal's -e (epoch) and -x take it. */
export function resetwalTarget(newest: bigint): { epoch: bigint; xid: bigint } {
  const segment = 1n << 20n;
  let epoch = newest >> 32n;
  let xid = ((newest & 0xffffffffn) / segment + 1n) * segment;
  if (xid > 0xffffffffn) {
    epoch += 1n;
    xid = segment;
  }
  return { epoch, xid };
}

export async function refuseLogAheadOfServer(sql: SqlRunner): Promise<void> {
  // pg_current_snapshot's xmax is the next id to be assigned; it assigns none itself.
  const [row] = await sql<{ newest: string | null; next: string }>(
    "SELECT (SELECT max(transaction_id) FROM events)::text AS newest, pg_snapshot_xmax(pg_current_snapshot())::text AS next",
    [],
  );
  if (!row?.newest || BigInt(row.newest) < BigInt(row.next)) return;
  const { epoch, xid } = resetwalTarget(BigInt(row.newest));
  throw new LogAheadOfServerError(
    `The event log holds transaction ids up to ${row.newest}, ahead of this PostgreSQL server's next one (${row.next}): ` +
      "it was restored from a logical backup (pg_dump) onto another server. Events written now would sort before the restored ones, " +
      "and the projections, the audit sealer and audit:verify would miss them, so nothing runs. Restore a physical backup instead " +
      "(pg_basebackup, point-in-time recovery), or move this server's transaction counter past the log's before anything writes: " +
      `on a new, stopped server, \`pg_resetwal -e ${epoch} -x 0x${xid.toString(16)} "$PGDATA"\`, start it, then restore the dump ` +
      '(README: "Restoring from a backup").',
  );
}
