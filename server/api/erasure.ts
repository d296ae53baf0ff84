// Erasing a patient (crypto-shredding), in one transaction: PatientErased is appended to the
// patient's stream (who and when are its metadata, why its payload; no PHI), the patient's data
// key is destroyed in phi_keys, the read models' rows are masked, and the snapshots of the
// patient's streams are deleted. Every event stays; their PHI reads "erased" from then on.
import { patientDecider } from "../domain/patient/decider";
import { patientStream, encounterStream, orderStream } from "../domain/streams";
import { keyRingOf } from "../eventStore/protect";
import { ENVELOPE_KEY } from "../eventStore/phi";
import { prismaRunner, type Db, type InlineProjector, type Store } from "../eventStore";
import { ConcurrencyError, InvariantError } from "../errors";
import { projectPatient } from "../projections/clinical";
import { maskPatientRows } from "../projections/erasure";
import { runCommand } from "./commands";
import type { SessionUser } from "./context";

/**
 * The records other than its own that a command was decided on, as loaded before its
 * transaction: the patient (an order's allergy check, active or not) and the order's encounter
 * (completed or not), with their versions then.
 */
export type DecidedOn = { patientVersion: number; encounter?: { id: string; version: number } | null };

/** A command decided on a patient or encounter that changed before its events could commit. */
export class StaleFactsError extends Error {
  override readonly name = "StaleFactsError";
  constructor(
    readonly streamId: string,
    readonly loadedVersion: number,
    readonly currentVersion: number,
  ) {
    super(`Stream ${streamId} changed while the command was decided: loaded version ${loadedVersion}, now ${currentVersion}`);
  }
}

/**
 * An encounter's or order's inline projection, refused when its patient has been erased, or
 * when the patient or encounter it was decided on has changed since it was loaded.
 *
 * Their streams are not the patient's, so optimistic concurrency does not order them after
 * PatientErased, and a process whose key ring still holds the patient's key would seal and
 * project as if nothing had happened: its projection rewrote the masked row with the order's
 * description and result in clear. The patient's read-model row is the lock both sides take:
 * the erasure updates it first (projectPatient), and this reads it FOR SHARE before the
 * projection touches a row. Taken first, the erasure waits for this write to commit and masks
 * it; taken second, this waits for the erasure to commit, then sees it and refuses, and the
 * transaction (events included) rolls back.
 *
 * A decision is ordered after the facts it read the same way, on the stream rows of the patient
 * and encounter it was decided on (stream_versions_decided_on): an append to them in flight (an
 * allergy recorded, the patient made inactive, the encounter completed) is waited for, and a
 * version other than the one decided on refuses with StaleFactsError, rolling the whole
 * transaction back (onFreshFacts decides again on fresh facts). Taken first, the rows are stamped
 * with this transaction's id (streams.last_xid): the other append waits until this commits, and
 * when its own transaction id is older it is refused as a serialization failure and runs again
 * with a newer one, so it sorts after this decision in the log's commit order (transaction id,
 * then position) as well as committing after it. A share lock alone ordered the commits but not
 * the ids: an encounter's completion that drew its id first and then waited committed after an
 * order on the open encounter while sorting before it. Without any of it, a medication order
 * placed as a penicillin allergy was recorded committed after the allergy, unchecked.
 *
 * The patient's stream is stamped by every write through here, decided on it or not (an order's
 * status, an encounter's completion): an erasure whose transaction drew its id first and then
 * waited for such a write would otherwise commit after it and sort before it, and the log would
 * show the write recorded about a patient already erased. Writes about one patient therefore
 * commit one after the other.
 */
export function refusingErased<S extends { status: string }>(project: InlineProjector<S>, decidedOn?: DecidedOn): InlineProjector<S> {
  return async (tx, change) => {
    const patientId = "patientId" in change.state ? (change.state.patientId as string) : null;
    const run = prismaRunner(tx);
    // The versions decided on, checked; the patient's stream stamped whether decided on or not.
    const loaded = new Map<string, number | null>();
    if (patientId) loaded.set(patientStream(patientId), decidedOn ? decidedOn.patientVersion : null);
    if (decidedOn?.encounter) loaded.set(encounterStream(decidedOn.encounter.id), decidedOn.encounter.version);
    if (loaded.size > 0) {
      const rows = await run<{ stream_id: string; version: number }>("SELECT stream_id, version FROM stream_versions_decided_on($1::text[])", [[...loaded.keys()]]);
      for (const [streamId, version] of loaded) {
        if (version === null) continue;
        const now = Number(rows.find((r) => r.stream_id === streamId)?.version ?? 0);
        if (now !== version) throw new StaleFactsError(streamId, version, now);
      }
    }
    if (patientId) {
      const [row] = await run<{ erased: boolean }>("SELECT erased_at IS NOT NULL AS erased FROM rm_patients WHERE patient_id = $1::uuid FOR SHARE", [patientId]);
      if (row?.erased) throw new InvariantError(`Patient ${patientId} was erased: nothing more can be recorded about them`, "patient.erased");
    }
    await project(tx, change);
  };
}

/** Attempts of a command whose facts keep changing under it before it gives up with a conflict. */
const FRESH_FACTS_ATTEMPTS = 5;

/**
 * Loads the facts a command is decided on and runs it (`attempt`), again on fresh facts when
 * they changed before it committed (StaleFactsError); a ConcurrencyError (CONFLICT) when they
 * keep changing.
 */
export async function onFreshFacts<T>(attempt: () => Promise<T>): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (error) {
      if (!(error instanceof StaleFactsError)) throw error;
      if (n >= FRESH_FACTS_ATTEMPTS) throw new ConcurrencyError(error.streamId, error.loadedVersion, error.currentVersion);
    }
  }
}

/**
 * Destroys a subject's data key (or records it as erased when it never had one), and the
 * wrappings of it a re-wrap kept. The database does it (phi_key_erase(), migration
 * 20261216020000_data_keys_changed_only_by_erasure_and_rewrap) only once the subject's stream
 * holds PatientErased, committed or appended earlier in this transaction: the app's role cannot
 * change phi_keys itself, so no key is destroyed without the erasure in the log.
 */
export async function destroyDataKey(tx: Db, subjectId: string): Promise<void> {
  await prismaRunner(tx)("SELECT phi_key_erase($1)::text AS erased", [subjectId]);
}

/** The stream ids of everything recorded about a patient (their own, their encounters', their orders'). */
async function patientStreamIds(tx: Db, patientId: string): Promise<string[]> {
  const rows = await prismaRunner(tx)<{ kind: string; id: string }>(
    `SELECT 'encounter' AS kind, encounter_id::text AS id FROM rm_encounters WHERE patient_id = $1::uuid
     UNION ALL SELECT 'order', order_id::text FROM rm_orders WHERE patient_id = $1::uuid`,
    [patientId],
  );
  return [patientStream(patientId), ...rows.map((r) => (r.kind === "encounter" ? encounterStream(r.id) : orderStream(r.id)))];
}

export async function erasePatient(ctx: { store: Store; user: SessionUser; correlationId: string }, input: { patientId: string; reason: string }) {
  const result = await runCommand(
    ctx,
    patientStream(input.patientId),
    patientDecider,
    { type: "ErasePatient", data: input, metadata: { now: new Date() } },
    {
      // A snapshot now would be sealed under the key being destroyed: none.
      snapshotEvery: 0,
      project: async (tx, change) => {
        await projectPatient(tx, change);
        await destroyDataKey(tx, input.patientId);
        await maskPatientRows(tx, [input.patientId], ["rm_encounters", "rm_orders", "rm_order_turnaround"]);
        await prismaRunner(tx)("DELETE FROM snapshots WHERE stream_id = ANY ($1::text[])", [await patientStreamIds(tx, input.patientId)]);
      },
    },
  );
  // Only after the commit: a rolled-back erasure must not leave this process believing it.
  keyRingOf(ctx.store).forget(input.patientId);
  const event = result.append?.events[0];
  return { patientId: input.patientId, eventId: event?.eventId ?? null, erasedAt: event?.recordedAt ?? null };
}

/**
 * How many of a patient's events (their own stream, their encounters' and orders') hold declared
 * PHI in clear: written before PHI protection, so no key of theirs seals them, and an erasure
 * cannot shred them (README, "PHI protection", Limits). The erasure page says so before the
 * admin confirms.
 */
export async function eventsInClearOf(store: Store, patientId: string): Promise<number> {
  const types = store.registry.types().filter((type) => (store.registry.definition(type)?.phi?.fields.length ?? 0) > 0);
  if (types.length === 0) return 0;
  const [row] = await store.sql<{ n: number }>(
    `SELECT count(*)::int AS n FROM events
      WHERE stream_id = ANY (
              SELECT $1::text
              UNION ALL SELECT $4 || encounter_id::text FROM rm_encounters WHERE patient_id = $2::uuid
              UNION ALL SELECT $5 || order_id::text FROM rm_orders WHERE patient_id = $2::uuid)
        AND event_type = ANY ($3::text[])
        AND NOT (data ? '${ENVELOPE_KEY}')`,
    [patientStream(patientId), patientId, types, encounterStream(""), orderStream("")],
  );
  return row?.n ?? 0;
}
