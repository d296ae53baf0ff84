// The cryptography of PHI protection without a database: sealing, opening, erasure's marker,
// tampering, master-key wrapping.
import { randomBytes, randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  ENVELOPE_KEY,
  PHI_ERASED,
  PhiAuthenticationError,
  createKeyRing,
  eventContext,
  markErased,
  masterKeyOf,
  newMasterKeyText,
  openFields,
  parseMasterKey,
  sealFields,
  unwrapDataKey,
  withinPaths,
  wrapDataKey,
  type PhiEnvelope,
} from "./phi";
import type { SqlRunner } from "./db";
import { decodeStored } from "./protect";
import { EventDecodeError, createRegistry, defineEvent } from "./serializer";
import { z } from "zod";

const subject = randomUUID();
const dataKey = randomBytes(32);

/** A key ring whose phi_keys "table" is a map: enough to test caching and erasure. */
function ringWith(rows: Map<string, string | null>, maxKeys?: number) {
  const master = masterKeyOf(randomBytes(32));
  const sql: SqlRunner = async <R,>(_text: string, params: readonly unknown[]) =>
    ((params[0] as string[]).filter((s) => rows.has(s)).map((s) => ({
      subject_id: s,
      wrapped_key: rows.get(s) === null ? null : wrapDataKey(master, s, dataKey),
      master_key_id: rows.get(s) === null ? null : master.id,
      mine: false,
    })) as R[]);
  return { ring: createKeyRing({ current: master, ...(maxKeys ? { maxKeys } : {}) }), sql };
}

const payload = {
  patientId: subject,
  givenName: "Ada",
  dateOfBirth: "1985-12-10",
  address: { line1: "1 Long Road", city: "Leeds", postalCode: "LS1", country: "GB" },
  changes: { phone: "+44 113 000", email: "ada@example.test" },
  sex: "female",
};
const fields = ["givenName", "dateOfBirth", "address", "changes.*", "missing"];

describe("PHI envelopes", () => {
  it("seals only the declared fields, self-describing, and opens them back to the same payload", async () => {
    const { ring, sql } = ringWith(new Map([[subject, "live"]]));
    const sealed = sealFields(payload, fields, subject, dataKey, "PatientRegistered");
    const text = JSON.stringify(sealed);
    for (const secret of ["Ada", "1985-12-10", "Long Road", "+44 113", "ada@example"]) expect(text).not.toContain(secret);
    expect(sealed).toMatchObject({ patientId: subject, sex: "female", changes: {} });
    const env = sealed[ENVELOPE_KEY] as PhiEnvelope;
    expect(env).toMatchObject({ v: 1, kid: subject, f: ["givenName", "dateOfBirth", "address", "changes.phone", "changes.email"] });
    expect(Buffer.from(env.iv, "base64")).toHaveLength(12);
    await ring.prepare(sql, [subject]);
    expect(openFields(ring, sealed, "PatientRegistered")).toEqual({ data: payload, erased: null });
    // Two seals of one payload differ (a fresh nonce each time).
    expect(JSON.stringify(sealFields(payload, fields, subject, dataKey, "PatientRegistered"))).not.toBe(text);
  });

  it("reads PHI_ERASED in every sealed field once the subject's key is destroyed, never an exception", async () => {
    const { ring, sql } = ringWith(new Map([[subject, null]]));
    const sealed = sealFields(payload, fields, subject, dataKey, "PatientRegistered");
    await ring.prepare(sql, [subject]);
    const opened = openFields(ring, sealed, "PatientRegistered");
    expect(opened.erased).toEqual(["givenName", "dateOfBirth", "address", "changes.phone", "changes.email"]);
    expect(opened.data).toEqual({
      patientId: subject,
      sex: "female",
      givenName: PHI_ERASED,
      dateOfBirth: PHI_ERASED,
      address: PHI_ERASED,
      changes: { phone: PHI_ERASED, email: PHI_ERASED },
    });
  });

  it("a modified ciphertext, nonce, key id or context fails authentication with a clear error", async () => {
    const { ring, sql } = ringWith(new Map([[subject, "live"]]));
    await ring.prepare(sql, [subject]);
    const sealed = sealFields(payload, fields, subject, dataKey, "PatientRegistered");
    const env = sealed[ENVELOPE_KEY] as PhiEnvelope;
    const ct = Buffer.from(env.ct, "base64");
    ct[3] = ct[3]! ^ 1;
    const flipped = { ...sealed, [ENVELOPE_KEY]: { ...env, ct: ct.toString("base64") } };
    expect(() => openFields(ring, flipped, "PatientRegistered")).toThrow(PhiAuthenticationError);
    expect(() => openFields(ring, flipped, "PatientRegistered")).toThrow(/failed authentication/);
    const iv = Buffer.from(env.iv, "base64");
    iv[0] = iv[0]! ^ 1;
    expect(() => openFields(ring, { ...sealed, [ENVELOPE_KEY]: { ...env, iv: iv.toString("base64") } }, "PatientRegistered")).toThrow(PhiAuthenticationError);
    // Moved to another event type: the context is authenticated too.
    expect(() => openFields(ring, sealed, "PatientDemographicsUpdated")).toThrow(PhiAuthenticationError);
  });

  it("an event's seal (format 2) binds its stream, event id and field list: moved to any other event it fails authentication, cache or not", async () => {
    const { ring, sql } = ringWith(new Map([[subject, "live"]]));
    await ring.prepare(sql, [subject]);
    const place = { streamId: `encounter-${randomUUID()}`, eventId: randomUUID() };
    const sealed = sealFields(payload, fields, subject, dataKey, "PatientRegistered", place);
    const env = sealed[ENVELOPE_KEY] as PhiEnvelope;
    expect(env).toMatchObject({ v: 2, kid: subject });
    // Opened in its place (and now cached as opened there).
    expect(openFields(ring, sealed, eventContext("PatientRegistered", env, place))).toEqual({ data: payload, erased: null });
    // The same envelope, genuine ciphertext and all, read as another event's: of another stream
    // (another encounter of this patient, say), under another id, or with no place at all.
    expect(() => openFields(ring, sealed, eventContext("PatientRegistered", env, { ...place, streamId: `encounter-${randomUUID()}` }))).toThrow(PhiAuthenticationError);
    expect(() => openFields(ring, sealed, eventContext("PatientRegistered", env, { ...place, eventId: randomUUID() }))).toThrow(/PHI of PatientRegistered \(key .*\) failed authentication/);
    expect(() => eventContext("PatientRegistered", env, undefined)).toThrow(PhiAuthenticationError);
    // Its field list pointed elsewhere: under the seal now.
    const moved = { ...sealed, [ENVELOPE_KEY]: { ...env, f: ["givenName", "dateOfBirth", "address", "changes.email", "changes.phone"] } };
    expect(() => openFields(ring, moved, eventContext("PatientRegistered", moved[ENVELOPE_KEY] as PhiEnvelope, place))).toThrow(PhiAuthenticationError);
    // And through the store's decode, which remembers decoded payloads: the copy is refused there too.
    const Registered = defineEvent("PatientRegistered", z.object({ patientId: z.string(), givenName: z.string() }).loose(), { phi: { fields } });
    const store = { registry: createRegistry([Registered]), phi: ring };
    expect(decodeStored(store, "PatientRegistered", 1, sealed, "validated", place.streamId, place.eventId)).toMatchObject({ givenName: "Ada" });
    expect(decodeStored(store, "PatientRegistered", 1, sealed, "validated", place.streamId, place.eventId)).toMatchObject({ givenName: "Ada" });
    expect(() => decodeStored(store, "PatientRegistered", 1, sealed, "validated", `order-${randomUUID()}`, place.eventId)).toThrow(PhiAuthenticationError);
  });

  it("refuses to guess when the key was never loaded, and says so when phi_keys has no row for it", async () => {
    const { ring, sql } = ringWith(new Map());
    const sealed = sealFields(payload, fields, subject, dataKey, "PatientRegistered");
    expect(() => openFields(ring, sealed, "PatientRegistered")).toThrow(/was not loaded/);
    await ring.prepare(sql, [subject]);
    expect(() => openFields(ring, sealed, "PatientRegistered")).toThrow(/no data key is stored for .*restored from a backup/);
  });

  it("leaves a key with no value out of the envelope, so it reads back absent rather than null", async () => {
    const { ring, sql } = ringWith(new Map([[subject, "live"]]));
    const data = { patientId: subject, details: { description: "Glucose", code: undefined } };
    const sealed = sealFields(data, ["details.*"], subject, dataKey, "OrderCreated");
    expect((sealed[ENVELOPE_KEY] as PhiEnvelope).f).toEqual(["details.description"]);
    await ring.prepare(sql, [subject]);
    const opened = openFields(ring, JSON.parse(JSON.stringify(sealed)), "OrderCreated").data as typeof data;
    expect(opened.details).toEqual({ description: "Glucose" });
  });

  it("keeps what a newer lookup found when an older one (another connection, an older snapshot) answers after it", async () => {
    const master = masterKeyOf(randomBytes(32));
    const ring = createKeyRing({ current: master });
    const row = { subject_id: subject, wrapped_key: wrapDataKey(master, subject, dataKey), master_key_id: master.id, mine: false };
    // The first lookup ran before the key's transaction committed (no row) and answers last.
    let answerOld!: (rows: unknown[]) => void;
    const old: SqlRunner = <R,>() => new Promise<R[]>((resolve) => (answerOld = resolve as (rows: unknown[]) => void));
    const current: SqlRunner = async <R,>() => [row] as R[];
    const before = ring.prepare(old, [subject]);
    await ring.prepare(current, [subject]);
    answerOld([]);
    await before;
    expect(ring.dataKey(subject)).toEqual(dataKey);
    const sealed = sealFields(payload, fields, subject, dataKey, "PatientRegistered");
    expect(openFields(ring, sealed, "PatientRegistered").data).toEqual(payload);
    // And an erased key never comes back through a lookup that started before the erasure.
    ring.forget(subject);
    await ring.prepare(current, [subject]);
    expect(ring.dataKey(subject)).toBe("erased");
  });

  it("caches erased subjects for good and forgets a subject at once", async () => {
    const rows = new Map<string, string | null>([[subject, "live"]]);
    const { ring, sql } = ringWith(rows);
    await ring.prepare(sql, [subject]);
    expect(ring.dataKey(subject)).toBeInstanceOf(Buffer);
    ring.forget(subject);
    expect(ring.dataKey(subject)).toBe("erased");
  });

  it("keeps every key a read prepared, when loading its other keys fills the cache", async () => {
    // A page whose first subject was cached long ago: loading its other subjects evicted the
    // oldest entry, that very subject, and the read failed with "not loaded" (a 500 on a chart, a
    // failed projection batch) once more patients were read than the cache holds.
    const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
    const { ring, sql } = ringWith(new Map([[a, "live"], [b, "live"], [c, "live"]]), 2);
    await ring.prepare(sql, [a]);
    await ring.prepare(sql, [b]);
    await ring.prepare(sql, [a, c]);
    expect(ring.dataKey(a)).toBeInstanceOf(Buffer);
    expect(ring.dataKey(c)).toBeInstanceOf(Buffer);
  });

  it("marks today's PHI paths erased and knows which schema complaints fall inside them", () => {
    expect(markErased({ a: 1, b: { c: "x", d: "y" } }, ["b.*"])).toEqual({ a: 1, b: { c: PHI_ERASED, d: PHI_ERASED } });
    expect(withinPaths(["dateOfBirth"], ["dateOfBirth"])).toBe(true);
    expect(withinPaths(["changes", "email"], ["changes.*"])).toBe(true);
    expect(withinPaths(["address", "country"], ["address"])).toBe(true);
    expect(withinPaths(["patientId"], ["address", "changes.*"])).toBe(false);
    expect(withinPaths([], ["address"])).toBe(false);
  });
});

describe("decoding a sealed payload again", () => {
  const Registered = defineEvent(
    "PatientRegistered",
    z.object({ patientId: z.uuid(), givenName: z.string().min(1), sex: z.enum(["female", "male"]), address: z.object({ city: z.string() }) }),
    { phi: { fields: ["givenName", "address"] } },
  );
  const stored = { patientId: subject, givenName: "Ada", sex: "female", address: { city: "Leeds" } };
  /** A fresh parse of the stored row, as every load gets. */
  const row = (sealed: Record<string, unknown>) => JSON.parse(JSON.stringify(sealed)) as Record<string, unknown>;

  it("returns an equal, unshared copy, checks the clear fields and the ciphertext, and stops at erasure", async () => {
    const rows = new Map<string, string | null>([[subject, "live"]]);
    const { ring, sql } = ringWith(rows);
    const registry = createRegistry([Registered]);
    let decodes = 0;
    const store = { registry: { ...registry, decode: (...args: Parameters<typeof registry.decode>) => (decodes++, registry.decode(...args)) }, phi: ring };
    await ring.prepare(sql, [subject]);
    const sealed = sealFields(stored, ["givenName", "address"], subject, dataKey, "PatientRegistered");
    const first = decodeStored(store, "PatientRegistered", 1, row(sealed));
    expect(first).toEqual(stored);
    (first.address as { city: string }).city = "changed by a reader";
    const again = decodeStored(store, "PatientRegistered", 1, row(sealed));
    expect(again).toEqual(stored);
    expect(again).not.toBe(first);
    expect(decodes).toBe(1);

    // A clear field altered in the row: validated again, never the remembered result.
    expect(() => decodeStored(store, "PatientRegistered", 1, { ...row(sealed), sex: "unknown" })).toThrow(EventDecodeError);
    expect(decodeStored(store, "PatientRegistered", 1, { ...row(sealed), patientId: subject })).toEqual(stored);
    // Another registry with its own schema decodes for itself.
    const lenient = { registry: createRegistry([{ ...Registered, schema: z.object({ patientId: z.string() }) }]), phi: ring };
    expect(decodeStored(lenient, "PatientRegistered", 1, row(sealed))).toEqual({ patientId: subject });

    // The ciphertext altered: authentication fails, whatever was decoded before.
    const env = sealed[ENVELOPE_KEY] as PhiEnvelope;
    const ct = Buffer.from(env.ct, "base64");
    ct[0] = ct[0]! ^ 1;
    expect(() => decodeStored(store, "PatientRegistered", 1, { ...row(sealed), [ENVELOPE_KEY]: { ...env, ct: ct.toString("base64") } })).toThrow(PhiAuthenticationError);

    // Erased: the remembered decode is never served again.
    ring.forget(subject);
    expect(decodeStored(store, "PatientRegistered", 1, row(sealed))).toEqual({ ...stored, givenName: PHI_ERASED, address: PHI_ERASED });
  });
});

describe("master keys", () => {
  it("parses 32 bytes of base64 and nothing else", () => {
    expect(parseMasterKey(newMasterKeyText())?.key).toHaveLength(32);
    expect(parseMasterKey("short")).toBeNull();
    expect(parseMasterKey(randomBytes(16).toString("base64"))).toBeNull();
    expect(parseMasterKey(`${randomBytes(32).toString("hex")}`)).toBeNull();
  });

  it("wraps a data key so that only the same master key and subject unwrap it", () => {
    const master = masterKeyOf(randomBytes(32));
    const wrapped = wrapDataKey(master, subject, dataKey);
    expect(unwrapDataKey(master, subject, wrapped)).toEqual(dataKey);
    expect(unwrapDataKey(masterKeyOf(randomBytes(32)), subject, wrapped)).toBeNull();
    expect(unwrapDataKey(master, randomUUID(), wrapped)).toBeNull();
    expect(masterKeyOf(master.key).id).toBe(master.id);
  });
});
