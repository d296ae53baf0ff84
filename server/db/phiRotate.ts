// Master-key rotation: re-wraps every patient's data key under PHI_MASTER_KEY, unwrapping with
// the key in PHI_MASTER_KEY_PREVIOUS that wrapped it. Events and snapshots are not touched (they
// are sealed under the data keys, which do not change). Batch by batch, each in its own
// transaction: an interrupted rotation leaves every key readable (new ones under the new master
// key, the rest under the old) and a rerun carries on from where it stopped.
import type { Database } from "./client";
import { EnvError } from "./env";
import { unwrapDataKey, wrapDataKey, type MasterKey } from "../eventStore/phi";

export type RotationProgress = { done: number; total: number; batches: number };

export type RotationOptions = {
  batchSize?: number;
  signal?: AbortSignal;
  onProgress?: (p: RotationProgress) => void;
};

export async function rotateMasterKey(
  db: Pick<Database, "prisma" | "sql">,
  keys: { current: MasterKey; previous: readonly MasterKey[] },
  options: RotationOptions = {},
): Promise<RotationProgress & { interrupted: boolean }> {
  const batchSize = options.batchSize ?? 500;
  const byId = new Map(keys.previous.map((k) => [k.id, k]));
  const [count] = await db.sql<{ n: bigint }>(
    "SELECT count(*) AS n FROM phi_keys WHERE wrapped_key IS NOT NULL AND master_key_id <> $1",
    [keys.current.id],
  );
  const progress: RotationProgress = { done: 0, total: Number(count?.n ?? 0), batches: 0 };
  options.onProgress?.(progress);
  for (;;) {
    if (options.signal?.aborted) return { ...progress, interrupted: true };
    const moved = await db.prisma.$transaction(async (tx) => {
      // Locked, so an erasure racing this batch waits for it and then destroys the new wrapping.
      const rows = await tx.$queryRawUnsafe<{ subject_id: string; wrapped_key: string; master_key_id: string }[]>(
        `SELECT subject_id, wrapped_key, master_key_id FROM phi_keys
          WHERE wrapped_key IS NOT NULL AND master_key_id <> $1
          ORDER BY subject_id LIMIT $2 FOR UPDATE SKIP LOCKED`,
        keys.current.id,
        batchSize,
      );
      if (rows.length === 0) return 0;
      const rewrapped = rows.map((row) => {
        const old = byId.get(row.master_key_id);
        if (!old) {
          throw new EnvError(
            `Invalid configuration:\n  PHI_MASTER_KEY_PREVIOUS: the data key of ${row.subject_id} is wrapped by master key ${row.master_key_id}, which is not given: add that key to PHI_MASTER_KEY_PREVIOUS`,
          );
        }
        const dataKey = unwrapDataKey(old, row.subject_id, row.wrapped_key);
        if (!dataKey) throw new EnvError(`Invalid configuration:\n  PHI_MASTER_KEY_PREVIOUS: master key ${old.id} does not unwrap the data key of ${row.subject_id}`);
        return { subject: row.subject_id, wrapped: wrapDataKey(keys.current, row.subject_id, dataKey) };
      });
      await tx.$executeRawUnsafe(
        `UPDATE phi_keys AS k SET wrapped_key = r.wrapped, master_key_id = $3, rotated_at = now()
           FROM unnest($1::text[], $2::text[]) AS r(subject, wrapped)
          WHERE k.subject_id = r.subject AND k.wrapped_key IS NOT NULL`,
        rewrapped.map((r) => r.subject),
        rewrapped.map((r) => r.wrapped),
        keys.current.id,
      );
      return rows.length;
    }, { timeout: 60_000 });
    if (moved === 0) return { ...progress, interrupted: false };
    progress.done += moved;
    progress.batches += 1;
    progress.total = Math.max(progress.total, progress.done);
    options.onProgress?.({ ...progress });
  }
}
