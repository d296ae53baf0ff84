// Outbox retention: processed rows older than OUTBOX_RETENTION_DAYS are deleted, oldest first, in
// small batches (each its own short statement, through outbox_processed_idx), so the table
// stays small without long locks; workers pruning at once take different rows (SKIP LOCKED).
// Pending and dead-lettered rows are never touched: a dead letter waits for an admin however old
// it is.
import type { Store } from "../eventStore";
import { recordRetention } from "../metrics/registry";

export type RetentionOptions = {
  retentionDays: number;
  /** Rows per DELETE. */
  batchSize?: number;
  /** Batches per call; the rest waits for the next call. */
  maxBatches?: number;
  /** The clock; default: the database's now(). */
  now?: Date;
};

/** Rows one call deletes at most by default (20 batches of 500). */
export const RETENTION_ROUND_ROWS = 20 * 500;

export async function pruneOutbox(store: Pick<Store, "sql">, options: RetentionOptions): Promise<number> {
  const batchSize = options.batchSize ?? 500;
  const maxBatches = options.maxBatches ?? RETENTION_ROUND_ROWS / batchSize;
  let deleted = 0;
  for (let i = 0; i < maxBatches; i++) {
    const rows = await store.sql<{ id: unknown }>(
      `DELETE FROM outbox WHERE id IN (
         SELECT id FROM outbox
          WHERE processed_at IS NOT NULL
            AND processed_at < coalesce($1::timestamptz, now()) - $2::integer * interval '1 day'
          ORDER BY processed_at
          LIMIT $3
          FOR UPDATE SKIP LOCKED
       ) AND processed_at IS NOT NULL
       RETURNING id`,
      [options.now ?? null, options.retentionDays, batchSize],
    );
    deleted += rows.length;
    if (rows.length < batchSize) break;
  }
  recordRetention(deleted);
  return deleted;
}
