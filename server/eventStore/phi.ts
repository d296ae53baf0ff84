// PHI protection at the serializer: each event type declares which payload fields are PHI and
// whose they are (the data subject: a patient). On append those fields leave the payload and go
// into one sealed envelope per event, AES-256-GCM under the subject's own data key; data keys
// are random, stored wrapped by the master key (PHI_MASTER_KEY) in phi_keys, and cached here.
// Erasure destroys a subject's data key: its envelopes can never be opened again, and readers
// get PHI_ERASED in those fields instead (crypto-shredding). Ids, types, statuses and times stay
// in clear so indexes, filters and projections keep working.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from "node:crypto";
import { InvariantError } from "../errors";
import type { SqlRunner } from "./db";

/** What a reader gets in place of a field whose subject was erased. */
export const PHI_ERASED = "[erased]";
export const isErased = (value: unknown): boolean => value === PHI_ERASED;

/**
 * An event type's PHI: field paths (`name`, `address`, `changes.*` for every key of an object)
 * and the field holding the data subject's id. Without that field in the payload (an
 * encounter's completion carries only its own id) the stream's subject applies: the subject of
 * its first event. `{ fields: [] }` is an explicit "no PHI here".
 */
export type PhiDeclaration = { readonly fields: readonly string[]; readonly subjectField?: string };
export const noPhi: PhiDeclaration = { fields: [] };

/** The stored form of a payload's PHI: self-describing, so algorithms and keys can change. */
export type PhiEnvelope = {
  /**
   * Envelope format, AES-256-GCM, 96-bit nonce, 128-bit tag appended to the ciphertext. 1: the
   * additional data binds the key id and the event type (or a snapshot's place). 2 (events
   * appended since): also the event's stream and id and the field list `f`.
   */
  v: 1 | 2;
  /** The data key's id: the data subject's id. */
  kid: string;
  /** Nonce, base64. */
  iv: string;
  /** Ciphertext + tag, base64, of the JSON array of the values of `f`, in its order. */
  ct: string;
  /** The concrete paths sealed (names only, never values): where "erased" goes after erasure. */
  f: string[];
};
export const ENVELOPE_KEY = "$phi";

export class PhiAuthenticationError extends Error {
  override readonly name = "PhiAuthenticationError";
  constructor(readonly kid: string, readonly context: string) {
    // A v2 context goes on with the event's place, one item a line: the message names its type.
    super(`PHI of ${context.split("\n")[0]} (key ${kid}) failed authentication: the stored ciphertext was altered, sealed under another key, or moved from another event`);
  }
}

export class PhiKeyError extends Error {
  override readonly name = "PhiKeyError";
}

// ---- master key -------------------------------------------------------------------------------

export type MasterKey = { id: string; key: Buffer };

/** A master key id: the first 16 hex digits of SHA-256 over the key (names it, reveals nothing). */
export function masterKeyOf(key: Buffer): MasterKey {
  return { id: createHash("sha256").update("emr-phi-master-key-id").update(key).digest("hex").slice(0, 16), key };
}

/** 32 bytes in base64 (`openssl rand -base64 32`); null when the text is not that. */
export function parseMasterKey(text: string): MasterKey | null {
  const trimmed = text.trim();
  if (!/^[A-Za-z0-9+/]{43}=$/.test(trimmed)) return null;
  const key = Buffer.from(trimmed, "base64");
  return key.length === 32 ? masterKeyOf(key) : null;
}

export const newMasterKeyText = (): string => randomBytes(32).toString("base64");

// ---- AES-256-GCM ------------------------------------------------------------------------------

function seal(key: Buffer, plaintext: Buffer, aad: string): { iv: Buffer; ct: Buffer } {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(Buffer.from(aad));
  const ct = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  return { iv, ct };
}

/** Null when authentication fails (altered ciphertext, nonce, aad, or the wrong key). */
function open(key: Buffer, iv: Buffer, ct: Buffer, aad: string): Buffer | null {
  if (iv.length !== 12 || ct.length < 16) return null;
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, iv);
    decipher.setAAD(Buffer.from(aad));
    decipher.setAuthTag(ct.subarray(ct.length - 16));
    const out = decipher.update(ct.subarray(0, ct.length - 16));
    decipher.final(); // GCM gives nothing more here; it throws when the tag does not match
    return out;
  } catch {
    return null;
  }
}

const wrapAad = (subject: string) => `emr-phi-dek-v1:${subject}`;

/** A data key wrapped by the master key: base64 of nonce + ciphertext + tag. */
export function wrapDataKey(master: MasterKey, subject: string, dataKey: Buffer): string {
  const { iv, ct } = seal(master.key, dataKey, wrapAad(subject));
  return Buffer.concat([iv, ct]).toString("base64");
}

export function unwrapDataKey(master: MasterKey, subject: string, wrapped: string): Buffer | null {
  const raw = Buffer.from(wrapped, "base64");
  const key = open(master.key, raw.subarray(0, 12), raw.subarray(12), wrapAad(subject));
  return key && key.length === 32 ? key : null;
}

// ---- paths ------------------------------------------------------------------------------------

type Json = Record<string, unknown>;
/** A deep copy of parsed JSON (plain objects, arrays, primitives): cheaper than structuredClone. */
export function copyJson(v: unknown): unknown {
  if (v === null || typeof v !== "object") return v;
  if (Array.isArray(v)) return v.map(copyJson);
  const out: Json = {};
  for (const k in v as Json) out[k] = copyJson((v as Json)[k]);
  return out;
}

const NOT_JSON = Symbol("not JSON");
const plainProto = (v: object) => {
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
};
/** Like copyJson, or NOT_JSON when the value holds anything but plain objects, arrays and primitives (a Date, a Map). */
function copyPlain(v: unknown): unknown {
  if (v === null || typeof v !== "object") return typeof v === "function" || typeof v === "symbol" || typeof v === "bigint" ? NOT_JSON : v;
  if (Array.isArray(v)) {
    const out: unknown[] = [];
    for (const item of v) {
      const c = copyPlain(item);
      if (c === NOT_JSON) return NOT_JSON;
      out.push(c);
    }
    return out;
  }
  if (!plainProto(v)) return NOT_JSON;
  const out: Json = {};
  for (const k in v as Json) {
    const c = copyPlain((v as Json)[k]);
    if (c === NOT_JSON) return NOT_JSON;
    out[k] = c;
  }
  return out;
}

/** Equal parsed JSON, keys in the same order (a stored row always parses in the same order). */
function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== "object" || typeof b !== "object") return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameJson(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (let i = 0; i < ka.length; i++) {
    const k = ka[i]!;
    if (k !== kb[i] || !sameJson((a as Json)[k], (b as Json)[k])) return false;
  }
  return true;
}

const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

/** The declared paths made concrete for one payload: `a.*` becomes `a.k` for each key k present. */
function concretePaths(data: Json, fields: readonly string[]): string[] {
  const out: string[] = [];
  for (const field of fields) {
    if (field.endsWith(".*")) {
      const parent = getPath(data, field.slice(0, -2));
      // A key present with no value (an optional field sent as undefined) is not sealed: JSON
      // would store it as null, which the schema of an optional field refuses on every read.
      if (isObject(parent)) for (const k of Object.keys(parent)) if (parent[k] !== undefined) out.push(`${field.slice(0, -2)}.${k}`);
    } else if (getPath(data, field) !== undefined) {
      out.push(field);
    }
  }
  return out;
}

function getPath(data: unknown, path: string): unknown {
  let at: unknown = data;
  for (const part of path.split(".")) {
    if (!isObject(at)) return undefined;
    at = at[part];
  }
  return at;
}

/**
 * Sets (or removes) a value in `owned`, an object the caller has already copied; nested objects
 * along the path are copied before they first change (`copied` remembers which), so the stored
 * payload is never mutated and a parent shared by several paths is copied once.
 */
function assignPath(owned: Json, path: string, value: unknown, remove = false, copied?: Set<Json>): void {
  const dot = path.indexOf(".");
  if (dot < 0) {
    if (remove) delete owned[path];
    else owned[path] = value;
    return;
  }
  const head = path.slice(0, dot);
  let child = owned[head] as Json;
  if (!isObject(child) || !copied?.has(child)) {
    child = isObject(child) ? { ...child } : {};
    owned[head] = child;
    copied?.add(child);
  }
  assignPath(child, path.slice(dot + 1), value, remove, copied);
}

/** Whether a zod issue path lies inside one of the erased paths (or is one). */
export function withinPaths(issuePath: readonly PropertyKey[], paths: readonly string[]): boolean {
  const joined = issuePath.map(String).join(".");
  return paths.some((p) => {
    const base = p.endsWith(".*") ? p.slice(0, -2) : p;
    return joined === base || joined.startsWith(`${base}.`);
  });
}

/** Every declared path that is present, set to PHI_ERASED (after upcasting, for today's shape). */
export function markErased(data: Json, fields: readonly string[]): Json {
  const out = { ...data };
  const copied = new Set<Json>();
  for (const path of concretePaths(data, fields)) assignPath(out, path, PHI_ERASED, false, copied);
  return out;
}

// ---- the key ring -----------------------------------------------------------------------------

type CachedKey = { key: Buffer; loadedAt: number } | { erased: true } | { missing: true; loadedAt: number };

export type KeyRingOptions = {
  /** Wraps new data keys; unwraps those it wrapped. */
  current: MasterKey;
  /** Older master keys, only to unwrap data keys not yet re-wrapped (during a rotation). */
  previous?: readonly MasterKey[];
  /** Unwrapped data keys kept in memory (least recently used go first). */
  maxKeys?: number;
  /**
   * Opened payloads kept in memory (hot charts reload the same events), each with the decodes
   * of the whole payload it was part of (protect.ts decodeStored); used only while the key is live.
   */
  maxOpened?: number;
  /**
   * How long a cached data key is trusted before phi_keys is read again: another process's
   * erasure reaches this one within it. An erasure in this process applies at once.
   */
  ttlMs?: number;
};

export type KeyRing = ReturnType<typeof createKeyRing>;

/** Who decoded a payload, and how: a remembered decode is reused only for the same. */
export type DecodedBy = { registry: object; mode: string; storedVersion: number };
type OpenedEntry = {
  kid: string;
  context: string;
  ct: string;
  values: OpenedValues;
  /** Decodes of whole payloads carrying this envelope: their clear fields and the result. */
  decoded: (DecodedBy & { clear: Json; result: Json })[];
};

/** A stored payload's clear fields (all but the envelope) equal `clear`, in the same order. */
function sameClear(data: Json, clear: Json): boolean {
  let n = 0;
  const keys = Object.keys(clear);
  for (const k in data) {
    if (k === ENVELOPE_KEY) continue;
    if (keys[n] !== k || !sameJson(data[k], clear[k])) return false;
    n++;
  }
  return n === keys.length;
}

export function createKeyRing(options: KeyRingOptions) {
  const masters = new Map<string, MasterKey>([[options.current.id, options.current], ...(options.previous ?? []).map((m) => [m.id, m] as const)]);
  const maxKeys = options.maxKeys ?? 10_000;
  const ttlMs = options.ttlMs ?? 60_000;
  const keys = new Map<string, CachedKey>();
  const streamSubjects = new Map<string, string | null>();
  // Opened envelopes by nonce (random, 96 bits), holding the key id, ciphertext and context they
  // were opened from: a hit must match all three exactly, so it is the same ciphertext that
  // authenticated before. Used only while the subject's key is live and cached, so an erasure
  // (or its arrival within the TTL) stops every hit at once. An entry may also hold what the
  // serializer decoded from the whole payload (`decodedPayload`).
  const opened = new Map<string, OpenedEntry>();
  const maxOpened = options.maxOpened ?? 20_000;

  const dataKey = (subject: string): Buffer | "erased" | "missing" | undefined => {
    const hit = keys.get(subject);
    if (!hit) return undefined;
    return "erased" in hit ? "erased" : "missing" in hit ? "missing" : hit.key;
  };

  const openedEntry = (env: PhiEnvelope, context: string): OpenedEntry | undefined => {
    const hit = opened.get(env.iv);
    return hit && hit.kid === env.kid && hit.ct === env.ct && hit.context === context ? hit : undefined;
  };

  const remember = <V>(map: Map<string, V>, k: string, v: V, max = maxKeys) => {
    map.delete(k);
    map.set(k, v);
    if (map.size > max) map.delete(map.keys().next().value as string);
  };

  const fresh = (subject: string): CachedKey | undefined => {
    const hit = keys.get(subject);
    if (!hit) return undefined;
    if ("erased" in hit) return hit;
    // A live key, or one found missing: looked up again once the TTL has passed.
    return performance.now() - hit.loadedAt < ttlMs ? hit : undefined;
  };

  type KeyRow = { subject_id: string; wrapped_key: string | null; master_key_id: string | null; mine: boolean };

  function unwrapRow(row: KeyRow): CachedKey {
    if (row.wrapped_key === null || row.master_key_id === null) return { erased: true };
    const master = masters.get(row.master_key_id);
    if (!master) {
      throw new PhiKeyError(
        `the data key of ${row.subject_id} is wrapped by master key ${row.master_key_id}, which is neither PHI_MASTER_KEY (${options.current.id}) nor in PHI_MASTER_KEY_PREVIOUS`,
      );
    }
    const key = unwrapDataKey(master, row.subject_id, row.wrapped_key);
    if (!key) throw new PhiKeyError(`the data key of ${row.subject_id} cannot be unwrapped by master key ${master.id}: wrong key or altered row`);
    return { key, loadedAt: performance.now() };
  }

  // Rows this transaction wrote itself are used, never cached: a rollback would leave the cache
  // holding a key that was never stored, and later appends would seal under it.
  const keyColumns = `subject_id, wrapped_key, master_key_id,
    (pg_current_xact_id_if_assigned() IS NOT NULL AND xmin::text = (pg_current_xact_id_if_assigned()::text::numeric % 4294967296)::text) AS mine`;

  /**
   * Caches what a lookup found. Lookups run concurrently on several connections, and one that
   * started earlier may answer later: what it saw must not overwrite what a newer one found. A
   * stored key never vanishes (an older lookup's "missing" is ignored once the key is cached) and
   * an erased one never comes back.
   */
  const keep = (subject: string, entry: CachedKey) => {
    const hit = keys.get(subject);
    if (hit && "erased" in hit) return;
    if ("missing" in entry && hit && "key" in hit) return;
    remember(keys, subject, entry);
  };

  async function load(sql: SqlRunner, subjects: string[], found: Map<string, CachedKey>): Promise<void> {
    if (subjects.length === 0) return;
    const rows = await sql<KeyRow>(`SELECT ${keyColumns} FROM phi_keys WHERE subject_id = ANY ($1::text[])`, [subjects]);
    for (const row of rows) {
      const entry = unwrapRow(row);
      found.set(row.subject_id, entry);
      if (!row.mine) keep(row.subject_id, entry);
    }
    // No row at all: phi_keys lost or restored from an older backup than the events. Said as such
    // on read (openFields), rather than as a key never loaded.
    for (const s of subjects) if (!found.has(s)) keep(s, { missing: true, loadedAt: performance.now() });
  }

  return {
    currentMasterKeyId: options.current.id,
    masterKeyIds: () => [...masters.keys()],
    masterKey: (id: string): MasterKey | undefined => masters.get(id),

    /** Loads the data keys of these subjects that are not cached (one query), for `dataKey`. */
    async prepare(sql: SqlRunner, subjects: Iterable<string>): Promise<Map<string, CachedKey>> {
      const found = new Map<string, CachedKey>();
      const missing: string[] = [];
      for (const s of new Set(subjects)) {
        const hit = fresh(s);
        if (hit && !("missing" in hit)) {
          found.set(s, hit);
          // Used again: the newest in the cache, so loading this read's other keys evicts older
          // ones, not a key this read is about to open.
          remember(keys, s, hit);
        } else missing.push(s);
      }
      await load(sql, missing, found);
      return found;
    },

    /**
     * The data keys to seal new events of these subjects with, created when a subject has none.
     * An erased subject is refused: nothing new is written about a forgotten patient.
     */
    async forWriting(sql: SqlRunner, subjects: Iterable<string>, own?: Map<string, Buffer>): Promise<Map<string, Buffer>> {
      const wanted = new Set(subjects);
      const out = new Map<string, Buffer>();
      for (const s of wanted) {
        const key = own?.get(s);
        if (key) out.set(s, key);
      }
      if (out.size === wanted.size) return out;
      const rest = [...wanted].filter((s) => !out.has(s));
      const found = await this.prepare(sql, rest);
      const missing = rest.filter((s) => !found.has(s));
      if (missing.length > 0) {
        const made = missing.map((s) => ({ s, key: randomBytes(32) }));
        const inserted = await sql<{ subject_id: string }>(
          `INSERT INTO phi_keys (subject_id, wrapped_key, master_key_id)
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
           ON CONFLICT (subject_id) DO NOTHING RETURNING subject_id`,
          [made.map((m) => m.s), made.map((m) => wrapDataKey(options.current, m.s, m.key)), made.map(() => options.current.id)],
        );
        const ours = new Set(inserted.map((r) => r.subject_id));
        for (const m of made) if (ours.has(m.s)) found.set(m.s, { key: m.key, loadedAt: performance.now() });
        // Another writer created the rest first: use theirs.
        await load(sql, missing.filter((s) => !ours.has(s)), found);
      }
      for (const [s, entry] of found) {
        if ("erased" in entry) throw new InvariantError(`Patient ${s} was erased: nothing more can be recorded about them`, "patient.erased");
        if (!("key" in entry)) continue;
        out.set(s, entry.key);
        // Not cached (this transaction's own row): kept for the rest of the transaction instead.
        const cached = keys.get(s);
        if (own && !(cached && "key" in cached && cached.key === entry.key)) own.set(s, entry.key);
      }
      return out;
    },

    /** A cached data key, "erased", "missing" (no row in phi_keys), or undefined when `prepare` has not loaded it. */
    dataKey,

    /** An opened envelope's values, when this exact ciphertext (same key, nonce, context, text) was opened before. */
    openedValues(env: PhiEnvelope, context: string): OpenedValues | undefined {
      return openedEntry(env, context)?.values;
    },
    rememberOpened(env: PhiEnvelope, context: string, values: OpenedValues): void {
      if (maxOpened > 0) remember(opened, env.iv, { kid: env.kid, context, ct: env.ct, values, decoded: [] }, maxOpened);
    },

    /**
     * A copy of what was decoded before from a stored payload equal to `data` (the same clear
     * fields and this exact envelope), by the same registry, mode and stored version; undefined
     * when there is none or the subject's key is not live (erased, missing, not loaded).
     * Decoding is a pure function of those, so the copy is what decoding again would return.
     */
    decodedPayload(data: Json, env: PhiEnvelope, context: string, by: DecodedBy): Json | undefined {
      if (!Buffer.isBuffer(dataKey(env.kid))) return undefined;
      const entry = openedEntry(env, context);
      if (!entry) return undefined;
      for (const memo of entry.decoded) {
        if (memo.registry !== by.registry || memo.mode !== by.mode || memo.storedVersion !== by.storedVersion) continue;
        if (!sameClear(data, memo.clear)) return undefined;
        return copyJson(memo.result) as Json;
      }
      return undefined;
    },
    /** Remembers a decode of a payload whose envelope is cached as opened under a live key (else nothing). */
    rememberDecoded(data: Json, env: PhiEnvelope, context: string, by: DecodedBy, result: Json): void {
      if (!Buffer.isBuffer(dataKey(env.kid))) return;
      const entry = openedEntry(env, context);
      if (!entry || entry.decoded.length >= 4) return;
      const clear: Json = {};
      for (const k in data) if (k !== ENVELOPE_KEY) clear[k] = data[k];
      const copies = { clear: copyPlain(clear), result: copyPlain(result) };
      if (copies.clear === NOT_JSON || copies.result === NOT_JSON) return;
      entry.decoded.push({ ...by, clear: copies.clear as Json, result: copies.result as Json });
    },

    /** This process forgets a subject's key at once (after an erasure). */
    forget(subject: string): void {
      remember(keys, subject, { erased: true });
    },

    streamSubject: (streamId: string) => streamSubjects.get(streamId),
    rememberStreamSubject: (streamId: string, subject: string | null) => remember(streamSubjects, streamId, subject),

    /** Drops every cached key (rotation tests, key changes). */
    clear(): void {
      keys.clear();
      streamSubjects.clear();
      opened.clear();
    },
  };
}

// ---- envelopes --------------------------------------------------------------------------------

const aadOf = (v: 1 | 2, kid: string, context: string) => `emr-phi-v${v}:${kid}:${context}`;

/** Where an event's envelope (v2) is bound: the event's stream and id. */
export type EventPlace = { streamId: string; eventId: string };

/** A v2 envelope's context: the event type, its place and the paths sealed, one a line. */
const placedContext = (eventType: string, place: EventPlace, paths: readonly string[]) => `${eventType}\n${place.streamId}\n${place.eventId}\n${JSON.stringify(paths)}`;

/**
 * The context a stored event's envelope opens under: its event type (v1), or that with the
 * event's place and the envelope's field list (v2). A v2 envelope read without its place (a
 * caller that does not know it) is refused: its seal cannot be checked.
 */
export function eventContext(eventType: string, env: PhiEnvelope, place: Partial<EventPlace> | undefined): string {
  if (env.v !== 2) return eventType;
  if (!place?.streamId || !place.eventId) throw new PhiAuthenticationError(env.kid, eventType);
  return placedContext(eventType, { streamId: place.streamId, eventId: place.eventId }, Array.isArray(env.f) ? env.f : []);
}

/**
 * Takes the declared PHI out of a payload into one sealed envelope under `key`. A payload with
 * PHI declared always gets an envelope (even of nulls), so a stream's subject can be read off
 * its first event.
 */
export function sealFields(data: Json, fields: readonly string[], kid: string, key: Buffer, context: string, place?: EventPlace): Json {
  const paths = concretePaths(data, fields);
  const plain: unknown[] = [];
  const clear = { ...data };
  const copied = new Set<Json>();
  for (const path of paths) {
    plain.push(getPath(data, path));
    assignPath(clear, path, undefined, true, copied);
  }
  // An event's seal (with its place) binds the event's stream, id and field list as well: a
  // genuine envelope copied into another event, of any stream, fails authentication.
  const v = place ? 2 : 1;
  const { iv, ct } = seal(key, Buffer.from(JSON.stringify(plain)), aadOf(v, kid, place ? placedContext(context, place, paths) : context));
  const envelope: PhiEnvelope = { v, kid, iv: iv.toString("base64"), ct: ct.toString("base64"), f: paths };
  return { ...clear, [ENVELOPE_KEY]: envelope };
}

export function envelopeOf(data: unknown): PhiEnvelope | null {
  if (!isObject(data)) return null;
  const env = data[ENVELOPE_KEY];
  return isObject(env) && typeof env.kid === "string" ? (env as PhiEnvelope) : null;
}

/** The subject ids whose keys these stored payloads need. */
export function subjectsOf(datas: Iterable<unknown>): Set<string> {
  const out = new Set<string>();
  for (const d of datas) {
    const env = envelopeOf(d);
    if (env) out.add(env.kid);
  }
  return out;
}

/** An envelope's opened values grouped by depth, so putting them back costs one pass. */
export type OpenedValues = { top: [string, unknown][]; nested: [string, [string, unknown][]][]; deep: [string, unknown][] };

function groupValues(paths: readonly string[], values: readonly unknown[]): OpenedValues {
  const out: OpenedValues = { top: [], nested: [], deep: [] };
  const byParent = new Map<string, [string, unknown][]>();
  paths.forEach((path, i) => {
    const parts = path.split(".");
    if (parts.length === 1) out.top.push([path, values[i]]);
    else if (parts.length === 2) {
      const list = byParent.get(parts[0]!) ?? [];
      if (list.length === 0) byParent.set(parts[0]!, list);
      list.push([parts[1]!, values[i]]);
    } else out.deep.push([path, values[i]]);
  });
  out.nested = [...byParent.entries()];
  return out;
}

export type Opened = {
  data: Json;
  /** The concrete paths whose subject was erased (null: nothing erased). */
  erased: string[] | null;
};

/**
 * A stored payload with its PHI back in place, or with PHI_ERASED there when the subject's key
 * was destroyed. A ciphertext that fails authentication throws PhiAuthenticationError: a reader
 * never gets garbage. The key must have been loaded (`KeyRing.prepare`).
 */
export function openFields(ring: KeyRing | null, data: unknown, context: string): Opened {
  const env = envelopeOf(data);
  if (!env) return { data: data as Json, erased: null };
  if (env.v !== 1 && env.v !== 2) throw new PhiKeyError(`PHI envelope format v${String(env.v)} is not known to this build`);
  const key = ring?.dataKey(env.kid);
  if (key === undefined) throw new PhiKeyError(`the data key of ${env.kid} was not loaded before reading (PHI key ring not configured?)`);
  if (key === "missing") throw new PhiKeyError(`no data key is stored for ${env.kid}: phi_keys was lost, or restored from a backup older than the events`);
  const clear: Json = {};
  for (const k in data as Json) if (k !== ENVELOPE_KEY) clear[k] = (data as Json)[k];
  if (key === "erased") {
    const copied = new Set<Json>();
    for (const path of env.f) assignPath(clear, path, PHI_ERASED, false, copied);
    return { data: clear, erased: env.f };
  }
  let values = ring!.openedValues(env, context);
  if (!values) {
    const plain = open(key, Buffer.from(env.iv, "base64"), Buffer.from(env.ct, "base64"), aadOf(env.v, env.kid, context));
    if (!plain) throw new PhiAuthenticationError(env.kid, context);
    const list = JSON.parse(plain.toString("utf8")) as unknown;
    if (!Array.isArray(list) || list.length !== env.f.length) throw new PhiAuthenticationError(env.kid, context);
    values = groupValues(env.f, list);
    ring!.rememberOpened(env, context, values);
  }
  // Values are shared with the cache: copied on the way out so no reader can change another's.
  for (const [k, v] of values.top) clear[k] = copyJson(v);
  for (const [k, subs] of values.nested) {
    const parent = clear[k];
    const o: Json = isObject(parent) ? { ...parent } : {};
    for (const [sk, v] of subs) o[sk] = copyJson(v);
    clear[k] = o;
  }
  if (values.deep.length > 0) {
    const copied = new Set<Json>();
    for (const [path, v] of values.deep) assignPath(clear, path, copyJson(v), false, copied);
  }
  return { data: clear, erased: null };
}
