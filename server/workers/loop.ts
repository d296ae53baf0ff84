// The outbox worker's loop: drain, and sleep OUTBOX_POLL_MS when there was nothing more to do,
// until the signal aborts. A full batch means more may be due, so it drains again at once.
import { setTimeout as sleep } from "node:timers/promises";
import { componentLogger, errorFields } from "../log";
import { drainOutbox, errorSummary, loopPauseMs, type DrainOptions, type DrainResult, type OutboxDeps } from "./outbox";
import { pruneOutbox } from "./retention";
import { wakeableSleep } from "./wakeup";

export type LoopOptions = Omit<DrainOptions, "now"> & {
  pollMs: number;
  signal: AbortSignal;
  /** Delete processed rows older than this many days, about once a minute (OUTBOX_RETENTION_DAYS). */
  retentionDays?: number;
};

const RETENTION_EVERY_MS = 60_000;

export async function runOutboxLoop(deps: OutboxDeps, options: LoopOptions): Promise<void> {
  const { pollMs, signal, retentionDays, ...drain } = options;
  const structured = componentLogger("outbox");
  // An append (here, or in another process when this one listens) ends the wait at once.
  const wake = wakeableSleep();
  let failures = 0;
  let lastRetention = 0;
  while (!signal.aborted) {
    let result: DrainResult | null = null;
    try {
      result = await drainOutbox(deps, drain);
      failures = 0;
      // drainOutbox writes the one line of a pass that moved something ("outbox batch": counts
      // and duration); an idle poll says nothing.
    } catch (error) {
      // The database or the broker is down: wait longer each time, up to a minute.
      failures++;
      structured.warn({ ...errorFields(error), reason: errorSummary(error), failures }, "outbox drain failed");
    }
    if (retentionDays !== undefined && failures === 0 && Date.now() - lastRetention >= RETENTION_EVERY_MS) {
      lastRetention = Date.now();
      try {
        const deleted = await pruneOutbox(deps.store, { retentionDays });
        if (deleted > 0) structured.info({ deleted, retentionDays }, "outbox retention");
      } catch (error) {
        structured.warn({ ...errorFields(error) }, "outbox retention failed");
      }
    }
    if (result && result.claimed === drain.batchSize) continue;
    if (failures > 0) {
      // Back off without waking on appends: during a broker outage every append woke the loop,
      // which reconnected at once (one attempt and one warning per append, hammering a
      // recovering broker). Appends meanwhile are kept and drained when the back-off ends.
      await sleep(loopPauseMs(pollMs, failures), undefined, { signal }).catch(() => {});
    } else {
      await wake.sleep(pollMs, signal);
    }
  }
  wake.close();
}
