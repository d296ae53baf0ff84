// Tamper evidence. Each event's hash (computed by append_to_stream) covers its content and the
// previous event of its stream; seals chain those hashes over the global log in commit order and
// are signed with an Ed25519 key that is not in the database. verifyLog recomputes both and
// names the first event or seal that does not match. The algorithm is in README.md, so an
// auditor can check an export without this code.
import { createHash, createPublicKey, sign, verify, type KeyObject } from "node:crypto";
import type { Store } from "./db";
import type { SealWitness } from "../audit/witness";

const ZERO_HASH = "0".repeat(64);
/** bytea as hex: pg hands back a Buffer, PGlite a Uint8Array. */
const hex = (bytes: Uint8Array | null): string => (bytes ? Buffer.from(bytes).toString("hex") : ZERO_HASH);

/** What a seal's signature covers: its canonical text. */
export function sealText(seal: { seq: number; from: string | null; to: string; eventCount: number; chainHash: string }): string {
  return ["emr-audit-seal-v1", `seq=${seal.seq}`, `from=${seal.from ?? "start"}`, `to=${seal.to}`, `count=${seal.eventCount}`, `chain=${seal.chainHash}`].join("\n");
}

/** The key id a seal names: the first 16 hex digits of the SHA-256 of the public key (SPKI DER). */
export function keyIdOf(key: KeyObject): string {
  const publicKey = key.type === "private" ? createPublicKey(key) : key;
  return createHash("sha256").update(publicKey.export({ type: "spki", format: "der" })).digest("hex").slice(0, 16);
}

type HashRow = { transaction_id: string; global_position: bigint; hash: Uint8Array | null };
export type SealRow = {
  seq: bigint;
  from_xid: string | null;
  from_position: bigint | null;
  to_xid: string;
  to_position: bigint;
  event_count: number;
  chain_hash: Uint8Array;
  key_id: string;
  signature: Uint8Array;
};

const checkpointText = (xid: string | null, position: bigint | number | null) => (xid === null ? null : `${xid}:${position}`);

async function hashesAfter(store: Store, after: { xid: string; position: bigint } | null, limit: number, upTo?: { xid: string; position: bigint }) {
  const params: unknown[] = [after?.xid ?? "0", after?.position ?? 0n, limit];
  let bound = "transaction_id < (SELECT log_read_horizon())"; // once per query, not per row
  if (upTo) {
    params.push(upTo.xid, upTo.position);
    bound = "(transaction_id, global_position) <= ($4::text::xid8, $5::bigint)";
  }
  return store.sql<HashRow>(
    // Ordered by the table's columns: the select list makes transaction_id text ("10" < "9").
    `SELECT transaction_id::text AS transaction_id, global_position, hash FROM events
      WHERE (transaction_id, global_position) > ($1::text::xid8, $2::bigint) AND ${bound}
      ORDER BY events.transaction_id, events.global_position LIMIT $3`,
    params,
  );
}

/** The columns of audit_seals a SealRow holds, as a select list. */
export const SEAL_COLUMNS = "seq, from_xid::text AS from_xid, from_position, to_xid::text AS to_xid, to_position, event_count, chain_hash, key_id, signature";

async function lastSeal(store: Store): Promise<SealRow | null> {
  const [row] = await store.sql<SealRow>(
    `SELECT ${SEAL_COLUMNS} FROM audit_seals ORDER BY seq DESC LIMIT 1`,
    [],
  );
  return row ?? null;
}

/** The newest seal as an export carries it: what an auditor checks the signature and chain against. */
export type SealCheckpoint = {
  seq: number;
  /** The commit-order checkpoints the seal covers: after `from` (null: the start) up to and including `to`, as "xid:position". */
  from: string | null;
  to: string;
  eventCount: number;
  /** Lowercase hex. */
  chainHash: string;
  keyId: string;
  /** Base64 Ed25519 signature over `signedText`. */
  signature: string;
  signedText: string;
};

export async function latestSealCheckpoint(store: Store): Promise<SealCheckpoint | null> {
  const seal = await lastSeal(store);
  return seal ? sealCheckpointOf(seal) : null;
}

/** Every seal, oldest first, as checkpoints: a full extract of the log carries them all, so the whole chain can be recomputed. */
export async function allSealCheckpoints(store: Store): Promise<SealCheckpoint[]> {
  const seals = await store.sql<SealRow>(
    `SELECT ${SEAL_COLUMNS} FROM audit_seals ORDER BY seq`,
    [],
  );
  return seals.map(sealCheckpointOf);
}

/** A seal row as the checkpoint an export and the console carry. */
export function sealCheckpointOf(seal: SealRow): SealCheckpoint {
  const seq = Number(seal.seq);
  const from = checkpointText(seal.from_xid, seal.from_position);
  const to = checkpointText(seal.to_xid, seal.to_position)!;
  const chainHash = hex(seal.chain_hash);
  return {
    seq,
    from,
    to,
    eventCount: seal.event_count,
    chainHash,
    keyId: seal.key_id,
    signature: Buffer.from(seal.signature).toString("base64"),
    signedText: sealText({ seq, from, to, eventCount: seal.event_count, chainHash }),
  };
}

export type SealResult = { sealed: number; seals: number };

/** A seal about to be signed with another key than the newest seal's: key ids only, never a key. */
export type KeyChange = { seq: number; previousKeyId: string; keyId: string };

/**
 * Seals what the global log holds past the last seal, in seals of at most `perSeal` events.
 * Several sealers may run: the seal's sequence number is its primary key, so a racing second
 * one fails its insert and stops.
 */
export async function sealLog(
  store: Store,
  key: KeyObject,
  options: {
    perSeal?: number;
    maxSeals?: number;
    witness?: WitnessStore;
    onSeal?: (seal: SealWitness) => void;
    /** Called before the first seal signed on top of a seal by another key: the key was rotated (or replaced by mistake). */
    onKeyChange?: (change: KeyChange) => void;
    /**
     * The public keys of earlier signing keys (AUDIT_VERIFY_PUBLIC_KEYS): with them, the newest
     * seal must verify (with these or the signing key) before anything is signed on top of it.
     */
    verifyWith?: readonly KeyObject[];
  } = {},
): Promise<SealResult> {
  const perSeal = options.perSeal ?? 5_000;
  const keyId = keyIdOf(key);
  let sealed = 0;
  let seals = 0;
  let witnessed = (await options.witness?.read()) ?? null;
  const database = options.witness ? await databaseIncarnation(store) : null;
  if (witnessed) {
    // Never sign on top of a history whose earlier seals are gone or changed: the next seal
    // would vouch for whatever replaced them. A witness of an earlier database here is dropped.
    const found = await witnessFinding(store, witnessed);
    if (found !== "held" && found !== "earlier") throw new SealWitnessError(found);
    if (found === "earlier") witnessed = null;
  }
  if (options.verifyWith) {
    // The app's role may insert seals (the sealer runs in the app): a row it did not sign, or one
    // naming a key nobody gave, would otherwise be chained on and vouched for by the next seal.
    const last = await lastSeal(store);
    const problem = last ? newestSealProblem(last, [createPublicKey(key), ...options.verifyWith]) : null;
    if (problem) throw new SealWitnessError(problem);
  }
  for (let n = 0; n < (options.maxSeals ?? 100); n++) {
    const last = await lastSeal(store);
    const after = last ? { xid: last.to_xid, position: last.to_position } : null;
    const rows = await hashesAfter(store, after, perSeal);
    if (rows.length === 0) break;
    const chain = createHash("sha256").update(last ? hex(last.chain_hash) : ZERO_HASH);
    for (const row of rows) chain.update(hex(row.hash));
    const chainHash = chain.digest("hex");
    const end = rows.at(-1)!;
    const seq = Number(last?.seq ?? 0n) + 1;
    const text = sealText({ seq, from: after ? checkpointText(after.xid, after.position) : null, to: checkpointText(end.transaction_id, end.global_position)!, eventCount: rows.length, chainHash });
    // Once per change: after this seal the newest one is signed with this key.
    if (last && last.key_id !== keyId) options.onKeyChange?.({ seq, previousKeyId: last.key_id, keyId });
    const signature = sign(null, Buffer.from(text), key);
    try {
      await store.sql(
        `INSERT INTO audit_seals (seq, from_xid, from_position, to_xid, to_position, event_count, chain_hash, key_id, signature)
         VALUES ($1, $2::text::xid8, $3, $4::text::xid8, $5, $6, $7, $8, $9)`,
        [seq, after?.xid ?? null, after?.position ?? null, end.transaction_id, end.global_position, rows.length, Buffer.from(chainHash, "hex"), keyId, signature],
      );
    } catch (error) {
      if ((error as { code?: string }).code === "23505" || /audit_seals_pkey/.test(String(error))) break; // another sealer won
      throw error;
    }
    sealed += rows.length;
    seals += 1;
    const seal = { seq, to: checkpointText(end.transaction_id, end.global_position)!, chainHash, keyId, signedAt: new Date().toISOString(), ...(database ? { database } : {}) };
    await options.witness?.write(seal);
    options.onSeal?.(seal);
  }
  if (options.witness && seals === 0) {
    // Another sealer's newer seal, its signature checked, is witnessed here too.
    const last = await lastSeal(store);
    if (last && Number(last.seq) > (witnessed?.seq ?? 0)) {
      const checkpoint = sealCheckpointOf(last);
      if (keyId === checkpoint.keyId && verify(null, Buffer.from(checkpoint.signedText), createPublicKey(key), Buffer.from(checkpoint.signature, "base64"))) {
        await options.witness.write({
          seq: checkpoint.seq,
          to: checkpoint.to,
          chainHash: checkpoint.chainHash,
          keyId: checkpoint.keyId,
          signedAt: new Date().toISOString(),
          ...(database ? { database } : {}),
        });
      }
    }
  }
  return { sealed, seals };
}

/** Why the newest seal may not be signed on top of, or null when its signature verifies with one of the keys. */
function newestSealProblem(seal: SealRow, keys: readonly KeyObject[]): string | null {
  const checkpoint = sealCheckpointOf(seal);
  const key = keys.find((k) => keyIdOf(k) === seal.key_id);
  if (!key) {
    return (
      `the newest seal ${checkpoint.seq} is signed with key ${seal.key_id}, which is not this sealer's nor among AUDIT_VERIFY_PUBLIC_KEYS: ` +
      "nothing is signed on top of it; if the signing key was rotated, give the earlier public key in AUDIT_VERIFY_PUBLIC_KEYS, otherwise the seal is not genuine"
    );
  }
  if (!verify(null, Buffer.from(checkpoint.signedText), key, Buffer.from(seal.signature))) {
    return `the newest seal ${checkpoint.seq} (to ${checkpoint.to}) does not verify with key ${seal.key_id}: it was not written by a sealer, and nothing is signed on top of it`;
  }
  return null;
}

/** Where a witness is kept (server/audit/witness.ts: a file outside the database). */
export type WitnessStore = { read(): SealWitness | null | Promise<SealWitness | null>; write(witness: SealWitness): void | Promise<void> };

/** What to run when a backup was restored on purpose (README, "Restoring a backup"). */
export const acceptRestoreHint =
  '; if a backup was restored on purpose, accept it once the log verifies: npm run audit:verify -- --accept-restore --reason "..."';

/** The sealer will not seal: the database no longer holds a seal as it was signed. */
export class SealWitnessError extends Error {
  override readonly name = "SealWitnessError";
}

/**
 * What the database holds of a witnessed seal: "held" as witnessed; "earlier" when the witness is
 * of an earlier database at this place; otherwise what is wrong, in words.
 */
export async function witnessFinding(store: Store, w: SealWitness): Promise<"held" | "earlier" | string> {
  const [row] = await store.sql<SealRow>(
    `SELECT ${SEAL_COLUMNS} FROM audit_seals WHERE seq = $1`,
    [w.seq],
  );
  if (row && hex(row.chain_hash) === w.chainHash && checkpointText(row.to_xid, row.to_position) === w.to) return "held";
  // Witnessed in this very database (not one created since at the same place): a log with nothing
  // recorded before the seal was emptied and written again, not new. Without this, an owner who
  // emptied the log and the seals and appended a history of their own passed for a demo reset.
  const sameDatabase = w.database !== undefined && w.database === (await databaseIncarnation(store));
  if (w.signedAt && !sameDatabase) {
    // The sealer's own witness of a database at this location that held events when it signed:
    // a database with no event recorded by then is a new one there (a demo reset, a restore
    // of nothing), whose sealer starts a witness of its own. On a log whose every event is newer
    // this reads all of it, so without the requests' statement bound (the console's sealer).
    const [held] = await (store.longSql ?? store.sql)<{ any: boolean }>(`SELECT EXISTS (SELECT 1 FROM events WHERE recorded_at <= $1::timestamptz) AS any`, [w.signedAt]);
    if (!held?.any) return "earlier";
  }
  const signed = `seal ${w.seq}${w.signedAt ? `, signed ${w.signedAt}` : ""} (to ${w.to}, chain ${w.chainHash.slice(0, 16)}…)`;
  return (
    (!row
      ? `${signed} is witnessed outside the database but no longer in it: seals were deleted, and what they covered may have been rewritten`
      : `${signed} is witnessed outside the database, and the database's seal ${w.seq} differs from it: seals were replaced`) + acceptRestoreHint
  );
}

/**
 * Which database this is, as created: its cluster's system identifier and its own oid. A
 * database dropped and created again at the same place (a demo reset), or a new embedded
 * folder, is another; the same one emptied is not. Null when neither can be read.
 */
export async function databaseIncarnation(store: Pick<Store, "sql">): Promise<string | null> {
  const oid = `(SELECT oid::text FROM pg_database WHERE datname = current_database())`;
  try {
    const [row] = await store.sql<{ id: string | null }>(`SELECT (SELECT system_identifier::text FROM pg_control_system()) || '/' || ${oid} AS id`, []);
    return row?.id ?? null;
  } catch (error) {
    // pg_control_system() revoked by a DBA: the oid alone (the witness file names the server).
    if ((error as { code?: string }).code !== "42501") throw error;
    const [row] = await store.sql<{ id: string | null }>(`SELECT ${oid} AS id`, []);
    return row?.id ?? null;
  }
}

export type IntegrityProblem =
  | { kind: "event_hash"; globalPosition: number; eventId: string; streamId: string; version: number; message: string }
  | { kind: "stream_gap"; streamId: string; version: number; message: string }
  | { kind: "stream_tail"; streamId: string; version: number; message: string }
  | { kind: "seal"; seq: number; from: string | null; to: string; message: string };

export type IntegrityReport = {
  ok: boolean;
  eventsChecked: number;
  /** Events written before tamper evidence existed: no hash to check. */
  eventsWithoutHash: number;
  streamsChecked: number;
  sealsChecked: number;
  /** Events after the last seal (not yet sealed: a deletion among them would not show). */
  eventsUnsealed: number;
  problems: IntegrityProblem[];
  /** The first problem in words, naming the event or seal, or null. */
  firstProblem: string | null;
};

type HashedEventRow = {
  global_position: bigint | string;
  event_id: string;
  stream_id: string;
  version: number;
  event_type: string;
  event_version: string;
  data: string;
  metadata: string;
  occurred_at: string;
  recorded_at: string;
  user_id: string | null;
  correlation_id: string | null;
  causation_id: string | null;
  hash: Uint8Array | null;
};
type BadEvent = {
  global_position: bigint;
  event_id: string;
  stream_id: string;
  version: number;
  prev_version: number | null;
  hash_ok: boolean;
  unhashed_after_hashed: boolean;
  recorded_before_previous: boolean;
};
const verifyPage = 2_000;

/**
 * An event's hash as README's "Verifying the log without our code" defines it: SHA-256 of the
 * previous hash in hex and each field as `length:value`, the length in characters (code points,
 * as PostgreSQL's length() counts them), an absent value the empty string.
 */
export function eventHash(previous: Uint8Array | null, e: Pick<HashedEventRow, "event_id" | "stream_id" | "version" | "event_type" | "event_version" | "data" | "metadata" | "occurred_at" | "recorded_at" | "user_id" | "correlation_id" | "causation_id">): string {
  let text = hex(previous);
  for (const field of [e.event_id, e.stream_id, String(e.version), e.event_type, e.event_version, e.data, e.metadata, e.occurred_at, e.recorded_at, e.user_id, e.correlation_id, e.causation_id]) {
    const value = field ?? "";
    text += `${[...value].length}:${value}`;
  }
  return createHash("sha256").update(text, "utf8").digest("hex");
}

/** Keeps the `max` problems earliest in the log, as the report lists them. */
function keepFirst(list: BadEvent[], row: BadEvent, max: number) {
  if (list.length >= max && row.global_position > list.at(-1)!.global_position) return;
  list.push(row);
  list.sort((a, b) => (a.global_position < b.global_position ? -1 : a.global_position > b.global_position ? 1 : 0));
  if (list.length > max) list.pop();
}

/**
 * Recomputes every event's hash from its content and its stream predecessor's stored hash,
 * checks each stream has versions 1..n and ends at the hash the stream row holds, then
 * recomputes every seal's chain over the log in commit order and checks its signature.
 */
export async function verifyLog(
  store: Store,
  publicKeys: readonly KeyObject[],
  options: { maxProblems?: number; onProgress?: (done: number, total: number) => void; witnesses?: readonly SealWitness[] } = {},
): Promise<IntegrityReport> {
  const maxProblems = options.maxProblems ?? 50;
  const problems: IntegrityProblem[] = [];
  // Seals known outside the database first: without them, a log whose seals were all deleted
  // reads as one never sealed.
  const witnesses = options.witnesses ?? [];
  for (const witness of witnesses) {
    const found = await witnessFinding(store, witness);
    if (found !== "held" && found !== "earlier") problems.push({ kind: "seal", seq: witness.seq, from: null, to: witness.to, message: found });
  }

  // The checks below read every event (or stream) in one statement: on a large log they outlast
  // the requests' statement bound, so they run without it (the console's "Verify integrity").
  const long = store.longSql ?? store.sql;
  const [counts] = await long<{ events: bigint; without: bigint; streams: bigint }>(
    `SELECT (SELECT count(*) FROM events) AS events, (SELECT count(*) FROM events WHERE hash IS NULL) AS without,
            (SELECT count(*) FROM streams) AS streams`,
    [],
  );
  // Besides each hash: an event without one after its stream's earlier events had one (no
  // append leaves a hash out since hashing began), and a recorded time earlier than the event
  // before it in the stream (the append takes the clock after the stream lock): both are rows
  // written by hand. Each hash is recomputed here from the stored text, not by the database's
  // event_hash(): that function is the owner's to replace, and one replaced to answer the stored
  // hash would vouch for any content. Only built-in casts and pg_catalog's to_char shape the text.
  const bad: BadEvent[] = [];
  let page: { stream: string; version: number } | null = null;
  let prev: { stream: string; version: number; hash: Uint8Array | null; recorded: string } | null = null;
  for (;;) {
    const rows: HashedEventRow[] = await long<HashedEventRow>(
      `SELECT global_position, event_id::text AS event_id, stream_id, version, event_type, event_version::text AS event_version,
              data::text AS data, metadata::text AS metadata,
              pg_catalog.to_char(pg_catalog.timezone('UTC', occurred_at), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS occurred_at,
              pg_catalog.to_char(pg_catalog.timezone('UTC', recorded_at), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS recorded_at,
              user_id, correlation_id, causation_id, hash
         FROM events
        WHERE $1::text IS NULL OR (stream_id, version) > ($1::text, $2::integer)
        ORDER BY stream_id, version LIMIT $3`,
      [page?.stream ?? null, page?.version ?? 0, verifyPage],
    );
    for (const row of rows) {
      const before = prev && prev.stream === row.stream_id ? prev : null;
      const hashOk = row.hash === null || hex(row.hash) === eventHash(before?.hash ?? null, row);
      const unhashedAfterHashed = row.hash === null && before !== null && before.hash !== null;
      const recordedBeforePrevious = before !== null && row.recorded_at < before.recorded;
      const prevVersion = before?.version ?? null;
      if (!hashOk || unhashedAfterHashed || recordedBeforePrevious || (prevVersion ?? 0) !== row.version - 1) {
        keepFirst(bad, { global_position: BigInt(row.global_position), event_id: row.event_id, stream_id: row.stream_id, version: row.version, prev_version: prevVersion, hash_ok: hashOk, unhashed_after_hashed: unhashedAfterHashed, recorded_before_previous: recordedBeforePrevious }, maxProblems);
      }
      prev = { stream: row.stream_id, version: row.version, hash: row.hash, recorded: row.recorded_at };
    }
    if (rows.length < verifyPage) break;
    page = { stream: prev!.stream, version: prev!.version };
  }
  for (const row of bad) {
    const where = `event ${row.event_id} (${row.stream_id} v${row.version}, position ${row.global_position})`;
    const broken = !row.hash_ok
      ? `${where} does not match its hash: its content or its predecessor was changed`
      : row.unhashed_after_hashed
        ? `${where} has no hash though the events before it in its stream have one: it was not written by an append`
        : row.recorded_before_previous
          ? `${where} was recorded before the event preceding it in its stream: its recorded time was set by hand`
          : null;
    if (broken) {
      problems.push({
        kind: "event_hash",
        globalPosition: Number(row.global_position),
        eventId: row.event_id,
        streamId: row.stream_id,
        version: row.version,
        message: broken,
      });
    }
    if ((row.prev_version ?? 0) !== row.version - 1) {
      problems.push({
        kind: "stream_gap",
        streamId: row.stream_id,
        version: row.version,
        message: `stream ${row.stream_id} jumps from v${row.prev_version ?? 0} to v${row.version}: an event was deleted or renumbered`,
      });
    }
  }
  const tails = await long<{ stream_id: string; version: number; last: number | null; hash_ok: boolean }>(
    // A last event without a hash where the stream recorded one counts too: "= NULL" is NULL, and a
    // stream not yet sealed, rewritten with its hashes removed, passed.
    `SELECT s.stream_id, s.version, l.version AS last, (s.last_hash IS NULL OR s.last_hash IS NOT DISTINCT FROM l.hash) AS hash_ok
       FROM streams s
       LEFT JOIN LATERAL (SELECT e.version, e.hash FROM events e WHERE e.stream_id = s.stream_id ORDER BY e.version DESC LIMIT 1) l ON true
      WHERE s.version > 0 AND (l.version IS DISTINCT FROM s.version OR NOT (s.last_hash IS NULL OR s.last_hash IS NOT DISTINCT FROM l.hash))
      LIMIT $1`,
    [maxProblems],
  );
  for (const row of tails) {
    problems.push({
      kind: "stream_tail",
      streamId: row.stream_id,
      version: row.version,
      message:
        row.last !== row.version
          ? `stream ${row.stream_id} is at v${row.version} but its last stored event is v${row.last ?? 0}: events were deleted`
          : `stream ${row.stream_id}'s last event does not carry the hash the stream recorded`,
    });
  }

  // Seals, in order: the chain over each range in commit order, its count and its signature.
  const keys = new Map(publicKeys.map((k) => [keyIdOf(k), k]));
  const seals = await store.sql<SealRow>(
    `SELECT ${SEAL_COLUMNS} FROM audit_seals ORDER BY seq`,
    [],
  );
  let previous: Uint8Array | null = null;
  let previousSeq = 0;
  let cursor: { xid: string; position: bigint } | null = null;
  let done = 0;
  const total = seals.reduce((n, s) => n + s.event_count, 0);
  for (const seal of seals) {
    const from = checkpointText(seal.from_xid, seal.from_position);
    const to = checkpointText(seal.to_xid, seal.to_position)!;
    const fail = (message: string) => problems.push({ kind: "seal", seq: Number(seal.seq), from, to, message: `seal ${seal.seq} (${from ?? "start"} .. ${to}): ${message}` });
    const expectedFrom = cursor ? checkpointText(cursor.xid, cursor.position) : null;
    // Numbered one after another from 1: a gap means seals were deleted, or this one was put in by hand.
    if (Number(seal.seq) !== previousSeq + 1) fail(previousSeq === 0 ? "is the first seal but not number 1" : `follows seal ${previousSeq}: seals ${previousSeq + 1} to ${Number(seal.seq) - 1} are missing, or this seal was inserted`);
    if (from !== expectedFrom) fail(previousSeq === 0 ? "does not start at the start of the log" : `does not start where seal ${previousSeq} ended`);
    const chain = createHash("sha256").update(hex(previous));
    let count = 0;
    let after = cursor;
    const upTo = { xid: seal.to_xid, position: seal.to_position };
    for (;;) {
      const rows = await hashesAfter(store, after, 10_000, upTo);
      for (const row of rows) chain.update(hex(row.hash));
      count += rows.length;
      if (rows.length < 10_000) break;
      const last = rows.at(-1)!;
      after = { xid: last.transaction_id, position: last.global_position };
    }
    const chainHash = chain.digest("hex");
    if (count !== seal.event_count) fail(`covers ${count} events now, ${seal.event_count} when sealed: events were deleted, added or moved`);
    else if (chainHash !== hex(seal.chain_hash)) fail("its events' hashes no longer chain to the sealed value: events were changed or reordered");
    const key = keys.get(seal.key_id);
    const text = sealText({ seq: Number(seal.seq), from, to, eventCount: seal.event_count, chainHash: hex(seal.chain_hash) });
    if (!key) {
      fail(`signed with key ${seal.key_id}, which is not among the verifying keys (${[...keys.keys()].join(", ") || "none"}): if it is an earlier signing key, give its public key (AUDIT_VERIFY_PUBLIC_KEYS, or audit:verify --public-key)`);
    }
    else if (!verify(null, Buffer.from(text), key, Buffer.from(seal.signature))) fail("its signature does not verify: the seal itself was altered");
    previous = seal.chain_hash;
    previousSeq = Number(seal.seq);
    cursor = upTo;
    done += seal.event_count;
    options.onProgress?.(done, total);
    if (problems.length >= maxProblems) break;
  }
  const [unsealed] = await long<{ n: bigint }>(
    `SELECT count(*) AS n FROM events WHERE (transaction_id, global_position) > ($1::text::xid8, $2::bigint)`,
    [cursor?.xid ?? "0", cursor?.position ?? 0n],
  );
  return {
    ok: problems.length === 0,
    eventsChecked: Number(counts?.events ?? 0n),
    eventsWithoutHash: Number(counts?.without ?? 0n),
    streamsChecked: Number(counts?.streams ?? 0n),
    sealsChecked: seals.length,
    eventsUnsealed: Number(unsealed?.n ?? 0n),
    problems,
    firstProblem: problems[0]?.message ?? null,
  };
}
