// A restore of a backup, accepted by an operator. A backup taken after seal 1 and restored after
// seal 2 was witnessed leaves a log that no longer holds seal 2: exactly what a deletion of seals
// looks like, so the sealer stops and verification fails, rightly. Only a person can say it was
// a restore. Accepting it checks that the log as restored verifies on its own, records who
// accepted it, when and why as an event in the log (which the next seal then covers), sets the
// witnessed seal aside in the witness file (kept there, with the event's id), and makes the
// newest seal the database holds the new baseline.
import { randomUUID, type KeyObject } from "node:crypto";
import { appendToStream, latestSealCheckpoint, verifyLog, witnessFinding, type Store } from "../eventStore";
import { AuditRestoreAccepted, OPERATIONS_AGGREGATE, restoreStream } from "../domain/operations/events";
import { lookupWitness, witnessKeyOf, writeWitness, type DatabaseRef, type SealWitness } from "./witness";

export type RestoreAccepted = { eventId: string; witnessed: SealWitness; baseline: SealWitness | null };

export class RestoreRefused extends Error {
  override readonly name = "RestoreRefused";
}

export async function acceptRestore(
  db: DatabaseRef,
  store: Store,
  keys: readonly KeyObject[],
  file: string,
  accepted: { reason: string; by: string },
): Promise<RestoreAccepted> {
  const reason = accepted.reason.trim();
  if (reason === "") throw new RestoreRefused("--accept-restore needs --reason: what was restored, from when, and why");
  const where = await witnessKeyOf(db);
  const witnessed = lookupWitness(file, where).witness;
  if (!witnessed) throw new RestoreRefused(`${file} holds no seal of this database (${where.key}): there is nothing to accept`);
  const finding = await witnessFinding(store, witnessed);
  if (finding === "held" || finding === "earlier") {
    throw new RestoreRefused(`the witnessed seal ${witnessed.seq} is not missing from this database: there is nothing to accept`);
  }
  // The new baseline must be a log that stands on its own: every event its hash, every seal its
  // events and a known key's signature. A restore of a tampered backup is not accepted.
  const report = await verifyLog(store, keys);
  if (!report.ok) {
    throw new RestoreRefused(`the log as restored does not verify, so it cannot be the new baseline:\n${report.problems.map((p) => `  ${p.message}`).join("\n")}`);
  }
  const newest = await latestSealCheckpoint(store);
  const baseline: SealWitness | null = newest
    ? { seq: newest.seq, to: newest.to, chainHash: newest.chainHash, keyId: newest.keyId, signedAt: new Date().toISOString() }
    : null;
  const eventId = randomUUID();
  const data = AuditRestoreAccepted.schema.parse({
    reason,
    witnessed: { seq: witnessed.seq, to: witnessed.to, chainHash: witnessed.chainHash, signedAt: witnessed.signedAt ?? null },
    baseline: baseline ? { seq: baseline.seq, to: baseline.to, chainHash: baseline.chainHash } : null,
  });
  // The log first: a failure there changes nothing, and a crash before the file is written
  // leaves the witness as it was, so accepting again is safe.
  await appendToStream(store, restoreStream(eventId), [
    { type: AuditRestoreAccepted.type, data, eventId, occurredAt: new Date(), userId: accepted.by, correlationId: `audit-restore-${eventId}`, causationId: null },
  ], { expectedVersion: "no_stream", aggregateType: OPERATIONS_AGGREGATE });
  writeWitness(file, where, baseline, { by: accepted.by, reason, eventId, baseline });
  return { eventId, witnessed, baseline };
}
