// Master-key rotation: re-wraps every patient's data key under PHI_MASTER_KEY, unwrapping with
// the key in PHI_MASTER_KEY_PREVIOUS that wrapped it. Events and snapshots are not touched (they
// are sealed under the data keys, which do not change). Batch by batch, each in its own
// transaction: an interrupted rotation leaves every key readable (new ones under the new master
// key, the rest under the old) and a rerun carries on from where it stopped.
// Batches skip rows another transaction holds (an erasure, say) so one slow holder does not stall
// the rest; but "done" is decided by counting what is left under an old key, locked or not, and
// locked rows are waited for: telling the operator to drop the old master key while a data key
// still needs it loses that patient's PHI once the old key is gone.
import type { Database } from "./client";
import { EnvError } from "./env";
import { unwrapDataKey, wrapDataKey, type MasterKey } from "../eventStore/phi";

export type RotationProgress = { done: number; total: number; batches: number };

export type RotationOptions = {
  batchSize?: number;
  signal?: AbortSignal;
  onProgress?: (p: RotationProgress) => void;
  /** Called while data keys left under an old master key are locked by another transaction. */
  onWaiting?: (locked: number) => void;
  /** How long to keep retrying locked keys before giving up with `remaining` > 0 (default 5 min). */
  lockWaitMs?: number;
  /** Between retries of locked keys (default 1 s). */
  retryMs?: number;
};

export type RotationResult = RotationProgress & {
  interrupted: boolean;
  /** Data keys still wrapped by an old master key at the end (locked past lockWaitMs); 0 when complete. */
  remaining: number;
};

/** Another rotation holds the lock: two at once would only fight over the same rows. */
export class RotationBusyError extends Error {
  constructor() {
    super("another keys:rotate is already running on this database; wait for it to finish (or stop it), then run this again");
    this.name = "RotationBusyError";
  }
}

// pg_try_advisory_lock key of a rotation ("phikeys" in ASCII), distinct from migrate's.
const ROTATION_ADVISORY_LOCK = 0x7068696b657973n;

const abortableSleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });

const countLeft = async (db: Pick<Database, "sql">, current: string) =>
  Number(
    (await db.sql<{ n: bigint }>("SELECT count(*) AS n FROM phi_keys WHERE wrapped_key IS NOT NULL AND master_key_id <> $1", [current]))[0]?.n ?? 0,
  );

/**
 * Rotates under an advisory lock held on a session of its own for the whole run; throws
 * RotationBusyError when another rotation holds it.
 */
export async function rotateMasterKey(
  db: Pick<Database, "prisma" | "sql" | "withSession">,
  keys: { current: MasterKey; previous: readonly MasterKey[] },
  options: RotationOptions = {},
): Promise<RotationResult> {
  return db.withSession(async (session) => {
    const [lock] = await session.query<{ ok: boolean }>(`SELECT pg_try_advisory_lock(${ROTATION_ADVISORY_LOCK}) AS ok`);
    if (!lock?.ok) throw new RotationBusyError();
    try {
      return await rotateLocked(db, keys, options);
    } finally {
      await session.query(`SELECT pg_advisory_unlock(${ROTATION_ADVISORY_LOCK})`);
    }
  });
}

async function rotateLocked(
  db: Pick<Database, "prisma" | "sql">,
  keys: { current: MasterKey; previous: readonly MasterKey[] },
  options: RotationOptions,
): Promise<RotationResult> {
  const batchSize = options.batchSize ?? 500;
  const lockWaitMs = options.lockWaitMs ?? 300_000;
  const retryMs = options.retryMs ?? 1000;
  const byId = new Map(keys.previous.map((k) => [k.id, k]));
  const progress: RotationProgress = { done: 0, total: await countLeft(db, keys.current.id), batches: 0 };
  options.onProgress?.(progress);
  let waitingSince: number | null = null;
  for (;;) {
    if (options.signal?.aborted) return { ...progress, interrupted: true, remaining: await countLeft(db, keys.current.id) };
    const moved = await db.prisma.$transaction(async (tx) => {
      // Locked, so an erasure racing this batch waits for it and then destroys the new wrapping.
      // Through the database's functions (the app's role holds no UPDATE on phi_keys): the claim
      // takes the rows' locks; the re-wrap refuses an empty wrapping and keeps each replaced one
      // in phi_key_history, so even a wrong wrapping written here loses no key.
      const rows = await tx.$queryRawUnsafe<{ subject_id: string; wrapped_key: string; master_key_id: string }[]>(
        "SELECT subject_id, wrapped_key, master_key_id FROM phi_keys_claim_for_rewrap($1, $2::int)",
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
      await tx.$queryRawUnsafe(
        "SELECT phi_keys_rewrap($1::text[], $2::text[], $3) AS n",
        rewrapped.map((r) => r.subject),
        rewrapped.map((r) => r.wrapped),
        keys.current.id,
      );
      return rows.length;
    }, { timeout: 60_000 });
    if (moved === 0) {
      // Nothing claimable: either finished, or the rest is locked by someone else.
      const remaining = await countLeft(db, keys.current.id);
      if (remaining === 0) {
        const repaired = await rewrapMislabelled(db, keys, batchSize);
        return { ...progress, done: progress.done + repaired, total: Math.max(progress.total, progress.done + repaired), interrupted: false, remaining: 0 };
      }
      waitingSince ??= Date.now();
      if (Date.now() - waitingSince >= lockWaitMs) return { ...progress, interrupted: false, remaining };
      options.onWaiting?.(remaining);
      await abortableSleep(retryMs, options.signal);
      continue;
    }
    waitingSince = null;
    progress.done += moved;
    progress.batches += 1;
    progress.total = Math.max(progress.total, progress.done);
    options.onProgress?.({ ...progress });
  }
}

/**
 * Before "none left" is said (and the operator drops PHI_MASTER_KEY_PREVIOUS): every key labelled
 * with the current master key's id is unwrapped by it. Before migration 20261219010000 the app's
 * role could move a key's label without re-wrapping it; such a key is skipped by every claim (its
 * label is current), and dropping the old master key lost it. Each is re-wrapped here from the old
 * key that unwraps it; one that no given key unwraps stops the rotation, naming the patient, so the
 * old keys are kept. Answers how many were re-wrapped.
 */
async function rewrapMislabelled(db: Pick<Database, "sql">, keys: { current: MasterKey; previous: readonly MasterKey[] }, batchSize: number): Promise<number> {
  let repaired = 0;
  let after = "";
  for (;;) {
    const rows = await db.sql<{ subject_id: string; wrapped_key: string }>(
      "SELECT subject_id, wrapped_key FROM phi_keys WHERE master_key_id = $1 AND wrapped_key IS NOT NULL AND subject_id > $2 ORDER BY subject_id LIMIT $3",
      [keys.current.id, after, batchSize],
    );
    if (rows.length === 0) return repaired;
    const fixes: { subject: string; wrapped: string }[] = [];
    for (const row of rows) {
      if (unwrapDataKey(keys.current, row.subject_id, row.wrapped_key)) continue;
      const dataKey = keys.previous.map((k) => unwrapDataKey(k, row.subject_id, row.wrapped_key)).find((k) => k);
      if (!dataKey) {
        throw new EnvError(
          `Invalid configuration:\n  PHI_MASTER_KEY: the data key of ${row.subject_id} is labelled with master key ${keys.current.id}, which does not unwrap it, and no key in PHI_MASTER_KEY_PREVIOUS does: keep every old master key until it is found`,
        );
      }
      fixes.push({ subject: row.subject_id, wrapped: wrapDataKey(keys.current, row.subject_id, dataKey) });
    }
    if (fixes.length > 0) {
      await db.sql("SELECT phi_keys_rewrap($1::text[], $2::text[], $3) AS n", [fixes.map((f) => f.subject), fixes.map((f) => f.wrapped), keys.current.id]);
      repaired += fixes.length;
    }
    after = rows.at(-1)!.subject_id;
  }
}
