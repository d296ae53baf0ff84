// The one place where the store seals and opens PHI (phi.ts does the cryptography): every
// append goes through `phiSealer`, every read through `preparePhi` + `decodeStored`, every
// snapshot through `sealState` / `openState`. Readers above the store (chart, audit, time
// travel, exports, outbox, projections) only ever see opened payloads or PHI_ERASED.
import { hkdfSync } from "node:crypto";
import { keyScopeOf, type Store } from "./db";
import type { NewEvent } from "./types";
import { defaultKeyRing, keyRingFor } from "../db/phiKey";
import { ENVELOPE_KEY, envelopeOf, eventContext, openFields, PhiAuthenticationError, sealFields, subjectsOf, type KeyRing } from "./phi";

/** The store's key ring: given, or its database's (the store's, or the transaction's it is on). */
export const keyRingOf = (store: Pick<Store, "phi"> & Partial<Pick<Store, "keyScope" | "db">>): KeyRing => {
  if (store.phi) return store.phi;
  const scope = keyScopeOf(store);
  return scope ? keyRingFor(scope) : defaultKeyRing();
};

/** Loads the data keys these stored payloads (events or snapshots) need: one query for the uncached. */
export async function preparePhi(store: Pick<Store, "sql" | "phi">, datas: Iterable<unknown>): Promise<void> {
  const subjects = subjectsOf(datas);
  if (subjects.size > 0) await keyRingOf(store).prepare(store.sql, subjects);
}

/** Decoded payloads to their stored form (what the bus publishes), where the store keeps it. */
const storedForms = new WeakMap<object, unknown>();

/**
 * The payload as stored behind a decoded one: PHI sealed, at the schema version it was written in
 * (metadata.schemaVersion), not upcast. Undefined unless read by a store with keepSealed.
 */
export const storedFormOf = (decoded: object): unknown => storedForms.get(decoded);

/**
 * The subject a stream's id names, where it names one: a patient's stream (patient-<id>) holds
 * PHI of that patient only.
 */
const subjectNamedBy = (streamId: string): string | null => (streamId.startsWith("patient-") ? streamId.slice("patient-".length) : null);

/**
 * A stored payload decoded for readers: PHI opened (or erased), upcast, validated. `streamId` and
 * `eventId`, the event's place: an envelope of format 2 is sealed to it, and one copied into
 * another event, of any stream, is refused (PhiAuthenticationError). Format 1 envelopes (events
 * appended before) bind their key and event type only: in a patient's stream one sealed under
 * another subject's key than the patient the stream names is refused, since the app's role,
 * which appends, could copy another patient's sealed allergy there and it read as this patient's.
 */
export function decodeStored(
  store: Pick<Store, "registry" | "phi" | "keepSealed">,
  eventType: string,
  storedVersion: number,
  data: unknown,
  mode: "validated" | "trusted" = "validated",
  streamId?: string,
  eventId?: string,
): Record<string, unknown> {
  const decode = mode === "trusted" ? store.registry.decodeTrusted : store.registry.decode;
  const env = envelopeOf(data);
  if (!env) {
    const clear = decode(eventType, storedVersion, data);
    // Upcast or not: the bus publishes every payload as stored, at its stored version.
    if (store.keepSealed) storedForms.set(clear, data);
    return clear;
  }
  const named = streamId === undefined ? null : subjectNamedBy(streamId);
  if (named !== null && env.kid !== named) throw new PhiAuthenticationError(env.kid, eventType);
  const context = eventContext(eventType, env, { streamId, eventId });
  const ring = keyRingOf(store);
  // A chart reloaded: this exact payload (envelope and clear fields) was decoded before under
  // the subject's live key, so the earlier result is reused (a copy) instead of opening,
  // upcasting and validating it again.
  const by = { registry: store.registry, mode, storedVersion };
  const payload = data as Record<string, unknown>;
  let decoded = ring.decodedPayload(payload, env, context, by);
  if (!decoded) {
    decoded = decode(eventType, storedVersion, data, (d) => openFields(ring, d, context));
    ring.rememberDecoded(payload, env, context, by, decoded);
  }
  // Only where asked (the outbox): a WeakMap entry per event costs the garbage collector.
  if (store.keepSealed) storedForms.set(decoded, data);
  return decoded;
}

/** The subject of a stream: its first event's envelope key id, or its patientId. Cached. */
async function streamSubject(store: Store, streamId: string): Promise<string | null> {
  const ring = keyRingOf(store);
  const known = ring.streamSubject(streamId);
  if (known !== undefined) return known;
  const [row] = await store.sql<{ subject: string | null }>(
    `SELECT coalesce(data->'${ENVELOPE_KEY}'->>'kid', data->>'patientId') AS subject FROM events WHERE stream_id = $1 ORDER BY version LIMIT 1`,
    [streamId],
  );
  if (!row) return null;
  ring.rememberStreamSubject(streamId, row.subject);
  return row.subject;
}

/**
 * The key a client command's fingerprint is made with (aggregate.ts): derived from the data key
 * of the record's subject (`named`, the command's patientId, or the stream's), so erasing the
 * patient leaves stored fingerprints that nothing can check a guess of their PHI against; null
 * for a record with no subject (no PHI). Creates the subject's key as the append would.
 */
export async function fingerprintKey(store: Store, streamId: string, named: unknown): Promise<Buffer | null> {
  const subject = typeof named === "string" ? named : await streamSubject(store, streamId);
  if (!subject) return null;
  const keys = await keyRingOf(store).forWriting(store.sql, [subject], store.ownKeys);
  return Buffer.from(hkdfSync("sha256", keys.get(subject)!, Buffer.alloc(0), "emr command fingerprint v2", 32));
}

type Sealer = (event: NewEvent, data: Record<string, unknown>) => Record<string, unknown>;

/** An event id as the database gives it back (lower case, hyphenated), which a read opens the seal with. */
function canonicalUuid(id: string): string {
  const hex = id.replace(/^\{|\}$/g, "").replace(/-/g, "").toLowerCase();
  return /^[0-9a-f]{32}$/.test(hex) ? `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}` : id;
}

/**
 * Resolves the data subject of each event of a batch that declares PHI, gets (or creates) their
 * data keys, and returns the synchronous step that seals one encoded payload; null when the
 * batch holds no PHI.
 */
export async function phiSealer(store: Store, streamId: string, events: readonly NewEvent[]): Promise<Sealer | null> {
  const plans: { fields: readonly string[]; subject: string }[] = [];
  let batchSubject: string | null = null;
  let any = false;
  for (const event of events) {
    const phi = store.registry.definition(event.type)?.phi;
    if (!phi || phi.fields.length === 0) {
      plans.push({ fields: [], subject: "" });
      continue;
    }
    any = true;
    const own = event.data[phi.subjectField ?? "patientId"];
    let subject: string | null = typeof own === "string" ? own : batchSubject;
    subject ??= await streamSubject(store, streamId);
    if (!subject) throw new Error(`No data subject for the PHI of ${event.type} in stream ${streamId}: it names none and the stream has none`);
    batchSubject ??= subject;
    plans.push({ fields: phi.fields, subject });
  }
  if (!any) return null;
  const ring = keyRingOf(store);
  const keys = await ring.forWriting(store.sql, new Set(plans.filter((p) => p.fields.length > 0).map((p) => p.subject)), store.ownKeys);
  if (batchSubject) ring.rememberStreamSubject(streamId, batchSubject);
  let i = 0;
  return (event, data) => {
    const plan = plans[i++]!;
    if (plan.fields.length === 0) return data;
    return sealFields(data, plan.fields, plan.subject, keys.get(plan.subject)!, event.type, { streamId, eventId: canonicalUuid(event.eventId) });
  };
}

/** Where a snapshot belongs: its stream, the version its state is at, and its state's shape (the decider's state version). */
export type SnapshotAt = { streamId: string; version: number; stateVersion: number };

// The additional data binds a snapshot to its stream, version and state version, not only to its
// type: snapshots are outside the hash chain and writable by the app's role, and one relabelled
// (the state before an allergy stored as the stream's newest version, or a state of an older
// shape labelled with the current state version after a bump) or copied from another stream
// would otherwise open as genuine and be folded on as the record.
const snapshotContext = (aggregateType: string, at: SnapshotAt) => `snapshot:${aggregateType}:${at.streamId}@${at.version}:state${at.stateVersion}`;

/** A snapshot's state, sealed whole under the stream's subject when the stream has one. */
export async function sealState(store: Store, at: SnapshotAt, aggregateType: string, state: unknown): Promise<unknown> {
  const subject = await streamSubject(store, at.streamId);
  if (!subject) return state;
  const keys = await keyRingOf(store).forWriting(store.sql, [subject], store.ownKeys);
  return sealFields({ state }, ["state"], subject, keys.get(subject)!, snapshotContext(aggregateType, at));
}

/**
 * A stored snapshot's state, or null when it cannot be used, and the load folds the events
 * instead (a snapshot is only a cache): sealed under an erased subject's key; on a stream with a
 * subject, not sealed under that subject's key for this stream and version (stored in clear,
 * relabelled, copied from another stream, altered, or sealed before snapshots were bound to
 * their place). Keys must be prepared (preparePhi) as for reads.
 */
export async function openState(store: Store, at: SnapshotAt, aggregateType: string, data: unknown): Promise<unknown> {
  const subject = await streamSubject(store, at.streamId);
  const envelope = envelopeOf(data);
  if (!subject) return envelope ? null : data;
  if (!envelope || envelope.kid !== subject) return null;
  // Exactly what sealState stores: the envelope alone, holding "state". Its field list is not under
  // the seal, so a list pointed elsewhere with a forged state in clear beside it opened "genuine".
  if (Object.keys(data as object).length !== 1 || envelope.f.length !== 1 || envelope.f[0] !== "state") return null;
  let opened: ReturnType<typeof openFields>;
  try {
    opened = openFields(keyRingOf(store), data, snapshotContext(aggregateType, at));
  } catch (error) {
    if (error instanceof PhiAuthenticationError) return null;
    throw error;
  }
  return opened.erased ? null : opened.data.state;
}
