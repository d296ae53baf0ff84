// Sealing health. Every sealer pass upserts its outcome into audit_sealer_status (one row per
// process); the backlog is what the log holds past the newest seal, counted through the commit-order
// index (events_commit_order_idx) and capped, so the events table's size does not matter.
// Nothing of any event is read or kept: positions, counts, times, a reason.
import { prismaRunner, SEAL_COLUMNS, sealCheckpointOf, withBoundedLockWait, type Db, type SealCheckpoint, type SealRow, type SqlRunner } from "../eventStore";
import type { SealerPass, SealerPassOutcome } from "../../shared/audit/sealingHealth";

/** An unsealed event older than this, or no sealer pass within it, is late (the console warns). */
export const SEALING_LATE_AFTER_SECONDS = 300;

/** How long a status write waits for a lock on audit_sealer_status before it gives up. */
export const SEALER_STATUS_LOCK_WAIT_MS = 3_000;

/** Rows of processes gone for this long are pruned by the next write. */
export const SEALER_STATUS_KEEP_DAYS = 7;

/** The console shows the passes of the last day. */
export const SEALER_STATUS_SHOWN_HOURS = 24;

/** The backlog is counted up to this many events (a count past the index's first pages costs). */
export const BACKLOG_COUNT_CAP = 100_000;

export type SealerOutcome =
  | { outcome: "sealed"; events: number }
  | { outcome: "idle" }
  | { outcome: "refused"; reason: string }
  | { outcome: "failed"; reason: string };

/**
 * Records this process's pass: its time, outcome and, when it sealed, the time of its last seal.
 * Runs in a transaction with a lock_timeout (a session holding the table must not hold the
 * sealer); given a transaction, it runs there as it is. Throws: the caller warns and goes on.
 */
export async function recordSealerPass(db: Db, processId: string, pass: SealerOutcome): Promise<void> {
  const reason = pass.outcome === "refused" || pass.outcome === "failed" ? pass.reason.slice(0, 500) : null;
  const events = pass.outcome === "sealed" ? pass.events : 0;
  const write = async (tx: Db) => {
    const sql = prismaRunner(tx);
    await sql(
      `INSERT INTO audit_sealer_status AS s (process_id, last_pass_at, outcome, sealed_events, reason, last_sealed_at)
       VALUES ($1, clock_timestamp(), $2::text, $3::integer, $4::text, CASE WHEN $2::text = 'sealed' THEN clock_timestamp() END)
       ON CONFLICT (process_id) DO UPDATE SET last_pass_at = EXCLUDED.last_pass_at, outcome = EXCLUDED.outcome,
         sealed_events = EXCLUDED.sealed_events, reason = EXCLUDED.reason,
         last_sealed_at = coalesce(EXCLUDED.last_sealed_at, s.last_sealed_at)`,
      [processId.slice(0, 200), pass.outcome, events, reason],
    );
    await sql(`DELETE FROM audit_sealer_status WHERE last_pass_at < now() - $1::integer * interval '1 day'`, [SEALER_STATUS_KEEP_DAYS]);
  };
  await withBoundedLockWait(db, SEALER_STATUS_LOCK_WAIT_MS, write);
}

export type SealingBacklog = {
  /** Events recorded past the newest seal (all events when nothing is sealed), counted up to BACKLOG_COUNT_CAP. */
  events: number;
  /** The count reached BACKLOG_COUNT_CAP: there are at least that many. */
  capped: boolean;
  /** Age of the first unsealed event in commit order (0 when none). */
  oldestSeconds: number;
};

export type SealingState = {
  /** The newest seal; `checkpoint` is the same row as an export carries it. */
  lastSeal: { seq: number; sealedAt: Date; ageSeconds: number; sealedThrough: Date | null; checkpoint: SealCheckpoint } | null;
  backlog: SealingBacklog;
};

type Num = number | string | bigint | null;
const num = (v: Num | undefined) => (v === null || v === undefined ? 0 : Number(v));

/**
 * The newest seal and what waits past it: a primary-key read, then an index range capped at
 * BACKLOG_COUNT_CAP. One read of the seal, so its checkpoint, times and backlog are of one seal
 * even while the sealer writes the next.
 */
export async function readSealingState(sql: SqlRunner): Promise<SealingState> {
  const [seal] = await sql<SealRow & { sealed_at: Date; age: Num; through: Date | null }>(
    `SELECT ${SEAL_COLUMNS}, s.sealed_at,
            extract(epoch FROM clock_timestamp() - s.sealed_at)::float8 AS age,
            (SELECT recorded_at FROM events WHERE global_position = s.to_position) AS through
       FROM audit_seals s ORDER BY s.seq DESC LIMIT 1`,
    [],
  );
  const after = seal ? [seal.to_xid, BigInt(num(seal.to_position))] : ["0", 0n];
  const [row] = await sql<{ events: Num; oldest: Num }>(
    `SELECT (SELECT count(*) FROM (SELECT 1 FROM events WHERE (transaction_id, global_position) > ($1::text::xid8, $2::bigint) LIMIT $3) u) AS events,
            (SELECT extract(epoch FROM clock_timestamp() - recorded_at)::float8 FROM events
              WHERE (transaction_id, global_position) > ($1::text::xid8, $2::bigint)
              ORDER BY transaction_id, global_position LIMIT 1) AS oldest`,
    [...after, BACKLOG_COUNT_CAP],
  );
  const events = num(row?.events);
  return {
    lastSeal: seal
      ? {
          seq: num(seal.seq),
          sealedAt: seal.sealed_at,
          ageSeconds: Math.max(0, num(seal.age)),
          sealedThrough: seal.through ?? null,
          checkpoint: sealCheckpointOf(seal),
        }
      : null,
    backlog: { events, capped: events >= BACKLOG_COUNT_CAP, oldestSeconds: events > 0 ? Math.max(0, num(row?.oldest)) : 0 },
  };
}

/** The sealers' passes of the last day, newest first (a bounded list: one row per process). */
export async function recentSealerPasses(sql: SqlRunner, limit = 20): Promise<SealerPass[]> {
  const rows = await sql<{ process_id: string; last_pass_at: Date; age: Num; outcome: SealerPassOutcome; sealed_events: Num; reason: string | null; last_sealed_at: Date | null }>(
    `SELECT process_id, last_pass_at, extract(epoch FROM clock_timestamp() - last_pass_at)::float8 AS age, outcome, sealed_events, reason, last_sealed_at FROM audit_sealer_status
      WHERE last_pass_at > now() - $1::integer * interval '1 hour'
      ORDER BY last_pass_at DESC, process_id LIMIT $2`,
    [SEALER_STATUS_SHOWN_HOURS, limit],
  );
  return rows.map((r) => ({
    processId: r.process_id,
    lastPassAt: r.last_pass_at,
    ageSeconds: Math.max(0, num(r.age)),
    outcome: r.outcome,
    sealedEvents: num(r.sealed_events),
    reason: r.reason,
    lastSealedAt: r.last_sealed_at,
  }));
}
