// The event store's one call per append: its metrics, and the wake-up of workers once the
// append has committed (an append inside a caller's transaction is announced by that caller,
// after its commit: see server/api/commands.ts).
import type { Db } from "../eventStore/db";
import { appended, isOutsideTransaction } from "../workers/wakeup";
import { recordAppend } from "./registry";

export function appendObserved(db: Db, aggregateType: string, events: number, startedAt: number, repeated: boolean): void {
  recordAppend(aggregateType, events, startedAt, repeated);
  if (!repeated && isOutsideTransaction(db)) appended(db);
}
