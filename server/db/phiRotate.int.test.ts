// Master-key rotation and the start-up check of the master key, on a database of their own.
import { randomBytes, randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "./client";
import { checkMasterKeys } from "./phiKey";
import { rotateMasterKey } from "./phiRotate";
import { eventRegistry } from "../domain/registry";
import { appendToStream, readStream, storeOn } from "../eventStore";
import { createKeyRing, masterKeyOf, type MasterKey } from "../eventStore/phi";
import { openTestDatabase } from "../testing/db";
import { eventExamples } from "../domain/schemaRegistry";

const A = masterKeyOf(randomBytes(32));
const B = masterKeyOf(randomBytes(32));
const ring = (current: MasterKey, previous: MasterKey[] = []) => createKeyRing({ current, previous });

describe("PHI master key: rotation and the start-up check [embedded, a database of its own]", () => {
  let db: Database;
  const streams: string[] = [];
  beforeAll(async () => {
    db = await openTestDatabase("embedded");
    const store = storeOn(db, eventRegistry, ring(A));
    for (let i = 0; i < 7; i++) {
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
});
