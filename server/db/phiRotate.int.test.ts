// Master-key rotation and the start-up check of the master key, on a database of their own.
import { randomBytes, randomUUID } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "./client";
import { checkMasterKeys } from "./phiKey";
import { RotationBusyError, rotateMasterKey } from "./phiRotate";
import { eventRegistry } from "../domain/registry";
import { appendToStream, readStream, storeOn } from "../eventStore";
import { createKeyRing, masterKeyOf, unwrapDataKey, wrapDataKey, type MasterKey } from "../eventStore/phi";
import { openFreshPostgresDatabase, openTestDatabase, pgUrl } from "../testing/db";
import { eventExamples } from "../domain/schemaRegistry";
import { destroyDataKey } from "../api/erasure";

const A = masterKeyOf(randomBytes(32));
const B = masterKeyOf(randomBytes(32));
const ring = (current: MasterKey, previous: MasterKey[] = []) => createKeyRing({ current, previous });

async function registerPatients(db: Database, n: number): Promise<string[]> {
  const streams: string[] = [];
  const store = storeOn(db, eventRegistry, ring(A));
  for (let i = 0; i < n; i++) {
    const patientId = randomUUID();
    const streamId = `patient-${patientId}`;
    streams.push(streamId);
    await appendToStream(
      store,
      streamId,
      [{ type: "PatientRegistered", data: { ...eventExamples.PatientRegistered!, patientId, givenName: `Rota${i}` }, eventId: randomUUID(), occurredAt: new Date(), userId: "t", correlationId: randomUUID(), causationId: null }],
      { expectedVersion: "no_stream", aggregateType: "patient" },
    );
  }
  return streams;
}

describe("PHI master key: rotation and the start-up check [embedded, a database of its own]", () => {
  let db: Database;
  let streams: string[] = [];
  beforeAll(async () => {
    db = await openTestDatabase("embedded");
    streams = await registerPatients(db, 7);
  });
  afterAll(async () => db?.close());

  const readAllWith = async (r: ReturnType<typeof ring>) => Promise.all(streams.map(async (s) => (await readStream(storeOn(db, eventRegistry, r), s)).map((e) => e.data)));
  const events = async () => (await db.sql<{ t: string }>("SELECT string_agg(data::text || hash::text, '|' ORDER BY global_position) AS t FROM events", []))[0]!.t;

  it("detects a wrong master key at start-up, naming PHI_MASTER_KEY", async () => {
    await expect(checkMasterKeys(db.sql, ring(A))).resolves.toBeUndefined();
    await expect(checkMasterKeys(db.sql, ring(B))).rejects.toThrow(/PHI_MASTER_KEY: 7 stored patient data keys are wrapped by master key/);
  });

  it("re-wraps every data key under the new master key without touching events; an interrupted rotation reruns to completion", async () => {
    const before = await readAllWith(ring(A));
    const eventsBefore = await events();
    const stop = new AbortController();
    const first = await rotateMasterKey(db, { current: B, previous: [A] }, { batchSize: 3, signal: stop.signal, onProgress: (p) => p.batches === 1 && stop.abort() });
    expect(first).toMatchObject({ interrupted: true, done: 3, total: 7 });
    // Halfway: the console, given both keys, reads everything as before; the check passes.
    expect(await readAllWith(ring(B, [A]))).toEqual(before);
    await expect(checkMasterKeys(db.sql, ring(B, [A]))).resolves.toBeUndefined();
    // ... and without the old key, start-up says which master key is missing.
    await expect(checkMasterKeys(db.sql, ring(B))).rejects.toThrow(/4 stored patient data keys are wrapped by master key .* PHI_MASTER_KEY_PREVIOUS/);

    const progress: number[] = [];
    const second = await rotateMasterKey(db, { current: B, previous: [A] }, { batchSize: 3, onProgress: (p) => progress.push(p.done) });
    expect(second).toMatchObject({ interrupted: false, done: 4, total: 4 });
    expect(progress).toEqual([0, 3, 4]);
    expect(await readAllWith(ring(B))).toEqual(before);
    await expect(checkMasterKeys(db.sql, ring(B))).resolves.toBeUndefined();
    await expect(checkMasterKeys(db.sql, ring(A))).rejects.toThrow(/PHI_MASTER_KEY/);
    expect(await events()).toBe(eventsBefore);
    // Nothing left to do: a third run is a no-op.
    expect(await rotateMasterKey(db, { current: B, previous: [A] })).toMatchObject({ done: 0, interrupted: false });
  });

  it("re-wraps a key labelled with the new master key but still wrapped by the old one before it says none are left", async () => {
    // A relabel made before migration 20261219010000 refused it: the label current, the wrapping
    // the old key's. Every claim skipped it (its label is current), the rotation said none were
    // left, and dropping the old master key lost that patient's PHI.
    const before = await readAllWith(ring(B, [A]));
    const [key] = await db.sql<{ subject_id: string; wrapped_key: string }>("SELECT subject_id, wrapped_key FROM phi_keys WHERE master_key_id = $1 ORDER BY subject_id LIMIT 1", [B.id]);
    const dataKey = unwrapDataKey(B, key!.subject_id, key!.wrapped_key)!;
    await db.sql("UPDATE phi_keys SET wrapped_key = $2 WHERE subject_id = $1", [key!.subject_id, wrapDataKey(A, key!.subject_id, dataKey)]);
    expect(await rotateMasterKey(db, { current: B, previous: [A] })).toMatchObject({ done: 1, interrupted: false, remaining: 0 });
    const [now] = await db.sql<{ wrapped_key: string }>("SELECT wrapped_key FROM phi_keys WHERE subject_id = $1", [key!.subject_id]);
    expect(unwrapDataKey(B, key!.subject_id, now!.wrapped_key)).toEqual(dataKey);
    expect(await readAllWith(ring(B))).toEqual(before);
    // One that no key given unwraps stops the rotation, naming the patient: the old keys are kept.
    await db.sql("UPDATE phi_keys SET wrapped_key = $2 WHERE subject_id = $1", [key!.subject_id, wrapDataKey(masterKeyOf(randomBytes(32)), key!.subject_id, dataKey)]);
    await expect(rotateMasterKey(db, { current: B, previous: [A] })).rejects.toThrow(new RegExp(`data key of ${key!.subject_id} is labelled with master key`));
    await db.sql("UPDATE phi_keys SET wrapped_key = $2 WHERE subject_id = $1", [key!.subject_id, now!.wrapped_key]);
  });
});

// Another transaction holding a phi_keys row (an erasure in progress) is invisible to a batch's
// SKIP LOCKED: the rotation must wait for it, not report every key rotated while one is not.
describe.skipIf(!pgUrl)("PHI master key rotation with keys locked by others [postgresql, a database of its own]", () => {
  let fresh: Awaited<ReturnType<typeof openFreshPostgresDatabase>>;
  let holder: pg.Client;
  let patients: string[] = [];
  beforeAll(async () => {
    fresh = await openFreshPostgresDatabase(4);
    patients = await registerPatients(fresh.db, 7);
    holder = new pg.Client({ connectionString: fresh.ownerUrl });
    await holder.connect();
  });
  afterAll(async () => {
    await holder?.end();
    await fresh?.drop();
  });

  const left = async (current: MasterKey) =>
    Number((await fresh.db.sql<{ n: bigint }>("SELECT count(*) AS n FROM phi_keys WHERE wrapped_key IS NOT NULL AND master_key_id <> $1", [current.id]))[0]!.n);
  const lockOneKey = async () => {
    await holder.query("BEGIN");
    await holder.query("SELECT 1 FROM phi_keys WHERE subject_id = (SELECT min(subject_id) FROM phi_keys) FOR UPDATE");
  };

  it("waits for a locked key, finishes with none left once it is released, and a second rotation meanwhile is refused", async () => {
    await lockOneKey();
    const waits: number[] = [];
    let second: Promise<unknown> | null = null;
    const result = await rotateMasterKey(fresh.db, { current: B, previous: [A] }, {
      batchSize: 3,
      retryMs: 50,
      onWaiting: (locked) => {
        waits.push(locked);
        // Still one key under A: a rotation started now must say another one is running.
        if (waits.length === 1) second = rotateMasterKey(fresh.db, { current: B, previous: [A] }).catch((error: unknown) => error);
        // Several retries while held prove it does not give up or claim completion; then release.
        if (waits.length === 5) void holder.query("COMMIT");
      },
    });
    expect(await second).toBeInstanceOf(RotationBusyError);
    expect(waits.slice(0, 5)).toEqual([1, 1, 1, 1, 1]);
    expect(result).toMatchObject({ interrupted: false, remaining: 0, done: 7, total: 7 });
    expect(await left(B)).toBe(0);
    await expect(checkMasterKeys(fresh.db.sql, ring(B))).resolves.toBeUndefined();
    // The lock is released at the end: the next rotation runs.
    await expect(rotateMasterKey(fresh.db, { current: B, previous: [A] })).resolves.toMatchObject({ done: 0, remaining: 0 });
  });

  it("a key locked past the wait is reported as remaining, not as rotated", async () => {
    await lockOneKey();
    try {
      const result = await rotateMasterKey(fresh.db, { current: A, previous: [B] }, { retryMs: 20, lockWaitMs: 200 });
      expect(result).toMatchObject({ interrupted: false, remaining: 1, done: 6 });
      expect(await left(A)).toBe(1);
    } finally {
      await holder.query("COMMIT");
    }
    await expect(rotateMasterKey(fresh.db, { current: A, previous: [B] })).resolves.toMatchObject({ done: 1, remaining: 0 });
    expect(await left(A)).toBe(0);
  });
  // The app's role changes phi_keys only through phi_keys_rewrap() and phi_key_erase(): the
  // database cannot tell a wrong wrapping from a right one, so every one replaced is kept, where
  // only the owner reaches it, until an erasure destroys them with the key.
  it("a wrong re-wrap loses no key: the owner puts the kept wrapping back; an erasure destroys the kept ones with the key", async () => {
    const streamId = patients[0]!;
    const subject = streamId.slice("patient-".length);
    const read = () => readStream(storeOn(fresh.db, eventRegistry, ring(A, [B])), streamId).then((events) => events.map((e) => e.data));
    const before = await read();
    const kept = async () =>
      (await holder.query<{ master_key_id: string }>("SELECT master_key_id FROM phi_key_history WHERE subject_id = $1 ORDER BY id", [subject])).rows.map((r) => r.master_key_id);
    // The rotations above (A to B, then B to A) kept the wrapping each replaced.
    expect(await kept()).toEqual([A.id, B.id]);

    // As the app's role: a re-wrap of garbage under the current master key id is taken...
    await fresh.db.sql("SELECT phi_keys_rewrap(ARRAY[$1], ARRAY[$2], $3)", [subject, randomBytes(60).toString("base64"), A.id]);
    await expect(read()).rejects.toThrow(/cannot be unwrapped/);
    expect(await kept()).toEqual([A.id, B.id, A.id]);
    // ...and the owner puts the newest kept wrapping back (README, "PHI protection").
    await holder.query(
      `UPDATE phi_keys AS k SET wrapped_key = h.wrapped_key, master_key_id = h.master_key_id
         FROM (SELECT wrapped_key, master_key_id FROM phi_key_history WHERE subject_id = $1 ORDER BY id DESC LIMIT 1) AS h
        WHERE k.subject_id = $1`,
      [subject],
    );
    expect(await read()).toEqual(before);

    // An erasure: PatientErased in the log, then the key and every kept wrapping are gone.
    await appendToStream(
      storeOn(fresh.db, eventRegistry, ring(A)),
      streamId,
      [{ type: "PatientErased", data: { patientId: subject, reason: "data subject request", erasedAt: new Date().toISOString() }, eventId: randomUUID(), occurredAt: new Date(), userId: "t", correlationId: randomUUID(), causationId: null }],
      { expectedVersion: 1, aggregateType: "patient" },
    );
    await fresh.db.prisma.$transaction((tx) => destroyDataKey(tx, subject));
    expect(await kept()).toEqual([]);
    const [key] = await fresh.db.sql<{ wrapped_key: string | null; erased: boolean }>("SELECT wrapped_key, erased_at IS NOT NULL AS erased FROM phi_keys WHERE subject_id = $1", [subject]);
    expect(key).toEqual({ wrapped_key: null, erased: true });
    // Erased stays erased: a re-wrap passes it over.
    expect(await fresh.db.sql("SELECT phi_keys_rewrap(ARRAY[$1], ARRAY['d3JhcHBlZA=='], $2) AS n", [subject, A.id])).toEqual([{ n: 0 }]);
  });
});
