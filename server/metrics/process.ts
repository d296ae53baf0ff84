// Observability for a process that serves or works on the database: its per-minute metric
// history for the admin charts, and (PostgreSQL) the NOTIFY that wakes other processes' workers
// after its appends. Idempotent: the console calls it on every request.
import type { Database } from "../db/client";
import { announceAppends } from "../workers/wakeup";
import { startRollupWriter } from "./rollups";

/**
 * Returns the stop of the rollup writer (its interval would otherwise write to a closed pool),
 * which writes the minutes one last time: await it before closing the database.
 */
export function observeProcess(db: Database): () => Promise<void> {
  announceAppends(db);
  return startRollupWriter(db.prisma);
}
