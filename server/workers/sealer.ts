// The audit sealer: like a projection it follows the global log in commit order, and seals what
// is new into signed checkpoints (server/eventStore/integrity.ts). Several may run: a seal's
// number is its primary key, so only one of two racing sealers writes each seal.
// Each seal is witnessed outside the database (server/audit/witness.ts): in the witness file,
// and in the server's log ("audit seal": its number, range and chain hash, nothing of any event).
// Each pass's outcome is recorded (server/audit/sealerStatus.ts) for the console and /metrics; a
// failed record is a warning, never the pass's outcome.
import type { KeyObject } from "node:crypto";
import { sealLog, SealWitnessError, type KeyChange, type Store, type WitnessStore } from "../eventStore";
import type { SealerOutcome } from "../audit/sealerStatus";
import { componentLogger, errorFields } from "../log";
import { errorSummary, loopPauseMs } from "./outbox";

export type SealerOptions = {
  signal: AbortSignal;
  everyMs: number;
  log?: (line: string) => void;
  witness?: WitnessStore;
  /** Earlier signing keys' public keys (AUDIT_VERIFY_PUBLIC_KEYS): the newest seal must verify before the next is signed on it. */
  verifyWith?: readonly KeyObject[];
  /** Records each pass's outcome (recordSealerPass); a failure here is logged, never the pass's. */
  recordPass?: (pass: SealerOutcome) => Promise<void>;
};

export async function runSealerLoop(store: Store, key: KeyObject, options: SealerOptions): Promise<void> {
  const log = options.log ?? (() => {});
  const logger = componentLogger("audit");
  let failures = 0;
  while (!options.signal.aborted) {
    let pass: SealerOutcome;
    try {
      const { sealed, seals } = await sealLog(store, key, {
        ...(options.witness ? { witness: options.witness } : {}),
        verifyWith: options.verifyWith ?? [],
        onSeal: (seal) => logger.info({ seq: seal.seq, to: seal.to, chainHash: seal.chainHash, keyId: seal.keyId }, "audit seal"),
        // A key changed silently would leave every earlier seal failing verification until
        // someone found the old public key: say it the moment it happens.
        onKeyChange: (change) => logger.warn(change, keyChangeMessage(change)),
      });
      if (seals > 0) log(`audit: sealed ${sealed} events in ${seals} seal${seals === 1 ? "" : "s"}`);
      failures = 0;
      pass = sealed > 0 ? { outcome: "sealed", events: sealed } : { outcome: "idle" };
    } catch (error) {
      failures++;
      // Seals the witness saw are gone or changed: nothing more is signed until someone looks.
      if (error instanceof SealWitnessError) {
        logger.error({ reason: error.message }, "audit sealing stopped: run npm run audit:verify (a backup restored on purpose: --accept-restore --reason)");
        // The reason names seals, positions and key ids, nothing of any event.
        pass = { outcome: "refused", reason: error.message };
      }
      // The database down or read-only: say why (class, SQLSTATE, the server's first line, never
      // a value), and wait longer each time, up to a minute, as the outbox and projections do.
      else {
        log(`audit: sealing failed (${errorSummary(error)})`);
        pass = { outcome: "failed", reason: errorSummary(error) };
      }
    }
    await recordPassSafely(options.recordPass, pass);
    await pause(loopPauseMs(options.everyMs, failures), options.signal);
  }
}

/** Records a pass; a failed write (the database down, a lock held past its wait) is a warning only. */
export async function recordPassSafely(record: SealerOptions["recordPass"], pass: SealerOutcome): Promise<void> {
  if (!record) return;
  try {
    await record(pass);
  } catch (error) {
    componentLogger("audit").warn({ ...errorFields(error), outcome: pass.outcome }, "audit sealer status not written");
  }
}

/** The refusal a process that would seal records when it has no signing key. */
export const NO_SIGNING_KEY = "no signing key configured (AUDIT_SIGNING_KEY)";

/**
 * For a process that would run the sealer but has no signing key (production without
 * AUDIT_SIGNING_KEY): nothing is sealed, as before; the refusal is recorded every `everyMs` until
 * stopped, well within the console's late window, so the console names the reason the backlog
 * grows instead of showing a sealer that seems merely absent.
 */
export async function recordNoKeyUntilStopped(record: NonNullable<SealerOptions["recordPass"]>, signal: AbortSignal, everyMs = 60_000): Promise<void> {
  while (!signal.aborted) {
    await recordPassSafely(record, { outcome: "refused", reason: NO_SIGNING_KEY });
    await pause(everyMs, signal);
  }
}

/** What the sealer says when it signs with another key than the newest seal's (key ids only). */
export const keyChangeMessage = (change: KeyChange) =>
  `audit signing key changed: seal ${change.seq} is signed with key ${change.keyId}, the seals before it with key ${change.previousKeyId}; ` +
  "give the earlier public key in AUDIT_VERIFY_PUBLIC_KEYS (and to audit:verify --public-key) or those seals no longer verify";

/**
 * Waits ms or until the signal aborts. The abort listener is removed when the timer ends the wait:
 * a `once` listener is only removed when it fires, so one was left per pass (a
 * MaxListenersExceededWarning after 11 passes, and growing for the life of the process). A signal
 * that aborted during the pass ends the wait at once: an abort event never comes again.
 */
export function pause(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}
