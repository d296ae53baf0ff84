// "Verify integrity" from the console: the same verification as `npm run audit:verify`
// (verifyLog), run in the background of this server process so a large log can report progress
// while the officer waits. A few recent runs are kept in memory, each visible to compliance.
// One runs at a time in this process: each reads and rechains the whole log, and nothing else
// bounded them, so one officer starting many at once slowed every other request (findings-h1 F13).
import { randomUUID } from "node:crypto";
import type { KeyObject } from "node:crypto";
import { verifyLog, type IntegrityReport, type Store } from "../eventStore";
import { faultMessage, logDatabaseUnavailable, logServerFault } from "../api/faults";
import { isDatabaseUnavailable } from "../errors";
import { env } from "../db/env";
import { witnessesIn, witnessFileFor, witnessKeyOf, type DatabaseRef, type SealWitness } from "./witness";

export type Verification = {
  id: string;
  startedBy: string;
  startedAt: Date;
  finishedAt: Date | null;
  /** Events rechained through the seals so far, of `total` (0 of 0 until the seals are read). */
  done: number;
  total: number;
  report: IntegrityReport | null;
  /** Why it could not run (no key, a database error), in words. */
  error: string | null;
  /** What the sealer's witness file holds of this database, in words (null: nothing at all). */
  witness: string | null;
};

const keep = 10;
const runs = new Map<string, Verification>();

/**
 * Starts a verification and returns at once; poll `verificationById` for progress and the report.
 * While one is running, asking again (by anyone) returns that one: it checks the same log with
 * the same keys, and its report answers both.
 */
export function startVerification(store: Store, keys: readonly KeyObject[], userId: string, db?: DatabaseRef): Verification {
  const running = [...runs.values()].find((r) => r.finishedAt === null);
  if (running) return { ...running };
  const run: Verification = { id: randomUUID(), startedBy: userId, startedAt: new Date(), finishedAt: null, done: 0, total: 0, report: null, error: null, witness: null };
  runs.set(run.id, run);
  for (const id of [...runs.keys()].slice(0, Math.max(0, runs.size - keep))) runs.delete(id);
  if (keys.length === 0) {
    run.error = "No key to verify the seals with: AUDIT_SIGNING_KEY is not set on this server.";
    run.finishedAt = new Date();
    return { ...run };
  }
  void (async () => {
    // The sealer's witness of this database (none in a test that names no database), found by
    // the database's identity, however this server spells its host.
    const where = db ? await witnessKeyOf(db) : null;
    let witnessed: { witnesses: SealWitness[]; summary: string | null };
    try {
      witnessed = where ? witnessesIn(witnessFileFor(env()), where) : { witnesses: [], summary: null };
    } catch (error) {
      run.error = `The seal witness could not be read: ${(error as Error).message}`;
      return;
    }
    run.witness = witnessed.summary;
    run.report = await verifyLog(store, keys, {
      witnesses: witnessed.witnesses,
      onProgress: (done, total) => {
        run.done = done;
        run.total = total;
      },
    });
  })()
    .catch((error: unknown) => {
      // The driver's or the server's words stay in the log (class and SQLSTATE, no text of the
      // statement); the officer gets what happened and the reference that finds it there.
      const fault = { procedure: "audit.verify", correlationId: run.id, error };
      if (isDatabaseUnavailable(error)) {
        logDatabaseUnavailable(fault);
        run.error = `The verification could not finish: the database could not be reached. Start it again when it is back (reference ${run.id}).`;
      } else {
        logServerFault(fault);
        run.error = `The verification could not finish. ${faultMessage(run.id)}`;
      }
    })
    .finally(() => {
      run.finishedAt = new Date();
    });
  return { ...run };
}

export function verificationById(id: string): Verification | null {
  const run = runs.get(id);
  return run ? { ...run } : null;
}
