// The outbox worker's loops: drain, and sleep OUTBOX_POLL_MS when there was nothing more to do,
// until the signal aborts. A full batch means more may be due, so it drains again at once.
import { setTimeout as sleep } from "node:timers/promises";
import { componentLogger, errorFields } from "../log";
import { BusUnavailableError, drainOutbox, errorSummary, loopPauseMs, publishOutbox, type DrainOptions, type DrainResult, type OutboxDeps } from "./outbox";
import { pruneOutbox, RETENTION_ROUND_ROWS } from "./retention";
import { wakeableSleep } from "./wakeup";

export type LoopOptions = Omit<DrainOptions, "now"> & {
  pollMs: number;
  signal: AbortSignal;
  /**
   * Delete processed rows older than this many days (OUTBOX_RETENTION_DAYS): a round about once a
   * minute, and again on the next pass while a round finds as many as it deletes.
   */
  retentionDays?: number;
};

const RETENTION_EVERY_MS = 60_000;

type Sleeper = ReturnType<typeof wakeableSleep>;

/**
 * One stage's loop: a pass, then at once again when it had more to do, else a sleep that an append
 * (or a poke) ends; after a failure, a back-off that appends do not cut short (with the database
 * or the broker down, every append woke the loop, which failed again at once: one attempt and
 * one warning per append, hammering whatever was recovering).
 */
async function stageLoop(pass: () => Promise<boolean>, options: { pollMs: number; signal: AbortSignal; wake: Sleeper; failed: (error: unknown, failures: number) => void }) {
  const { pollMs, signal, wake } = options;
  let failures = 0;
  while (!signal.aborted) {
    let more = false;
    try {
      more = await pass();
      failures = 0;
    } catch (error) {
      failures++;
      options.failed(error, failures);
    }
    if (more) continue;
    if (failures > 0) await sleep(loopPauseMs(pollMs, failures), undefined, { signal }).catch(() => {});
    else await wake.sleep(pollMs, signal);
  }
}

/**
 * The outbox worker. With a bus, its two stages run as two loops side by side: the handlers'
 * (woken by appends) and the bus's (woken when rows were handled), each with its own back-off, so
 * a broker that is down or silent (connect and confirm timeouts of seconds) never delays a
 * handler. Without a bus, one loop.
 */
export async function runOutboxLoop(deps: OutboxDeps, options: LoopOptions): Promise<void> {
  const { pollMs, signal, retentionDays, ...drain } = options;
  const structured = componentLogger("outbox");
  const { bus } = deps;
  // Stage one's events, for stage two of this process: read once.
  deps = bus ? { ...deps, handledEvents: deps.handledEvents ?? new Map() } : deps;
  // An append (here, or in another process when this one listens) ends the wait at once.
  const handlersWake = wakeableSleep();
  // The bus loop is woken by the handlers' loop when it has handled rows, not by appends: an
  // append's rows are not the bus's until then, and a claim per append found nothing.
  const busWake = bus ? wakeableSleep({ appends: false }) : null;
  // When (steady clock) the next retention round is due; undefined: at once.
  let retentionDue: number | undefined;
  const full = (result: DrainResult) => result.claimed >= drain.batchSize || result.handled >= drain.batchSize;

  const handlersPass = async () => {
    // With a bus this is stage one only; without one, the whole drain.
    const result = await drainOutbox(deps, { ...drain, skipBus: true, sweepEveryMs: 30_000 });
    if (result.handled > 0) busWake?.poke();
    if (retentionDays !== undefined && (retentionDue === undefined || performance.now() >= retentionDue)) {
      // A round a minute deleted at most 10,000 rows: above about 170 appended events a second
      // the table grew for good. A full round means more is due: the next pass prunes again.
      retentionDue = performance.now() + RETENTION_EVERY_MS;
      try {
        const deleted = await pruneOutbox(deps.store, { retentionDays });
        if (deleted > 0) structured.info({ deleted, retentionDays }, "outbox retention");
        if (deleted >= RETENTION_ROUND_ROWS) retentionDue = performance.now();
      } catch (error) {
        structured.warn({ ...errorFields(error) }, "outbox retention failed");
      }
    }
    return full(result);
  };
  const failed = (what: string) => (error: unknown, failures: number) =>
    structured.warn({ ...errorFields(error), reason: errorSummary(error), failures }, what);
  try {
    await Promise.all([
      stageLoop(handlersPass, { pollMs, signal, wake: handlersWake, failed: failed("outbox drain failed") }),
      bus && busWake
        ? stageLoop(async () => full(await publishOutbox({ ...deps, bus }, drain)), {
            pollMs,
            signal,
            wake: busWake,
            failed: (error, failures) =>
              error instanceof BusUnavailableError
                ? structured.warn({ reason: error.message, failures }, "message bus unavailable; in-process handlers go on, publishing waits")
                : failed("outbox publishing failed")(error, failures),
          })
        : null,
    ]);
  } finally {
    handlersWake.close();
    busWake?.close();
  }
}
