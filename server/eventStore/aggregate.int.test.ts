// Snapshots change speed, never results; temporal loads see exactly the prefix they name.
import { randomUUID } from "node:crypto";
import fc from "fast-check";
import { expect, it } from "vitest";
import { patientDecider, type PatientCommand, type PatientState } from "../domain/patient/decider";
import { eventRegistry } from "../domain/registry";
import { patientStream } from "../domain/streams";
import { describeEachDatabase } from "../testing/db";
import { ConcurrencyError } from "../errors";
import { storeOn, type Store } from "./db";
import { handleCommand, loadAggregate, loadAsOf, loadAtVersion, eventIdFor } from "./aggregate";
import { readStream } from "./read";
import { loadAtMoment } from "./temporal";
import { saveSnapshot } from "./snapshots";

const envelope = () => ({ userId: "user-prop", correlationId: randomUUID(), commandId: randomUUID() });
const now = new Date("2026-06-01T12:00:00Z");

function register(patientId: string): PatientCommand {
  return {
    type: "RegisterPatient",
    data: { patientId, mrn: `P${patientId.replace(/-/g, "").slice(0, 9).toUpperCase()}`, givenName: "Grace", familyName: "Hopper", dateOfBirth: "1950-01-01", sex: "female" },
    metadata: { now },
  };
}

// Random demographic edits, some of them no-ops (same value again).
const editArb = fc.oneof(
  fc.constantFrom("Grace", "Ada", "Mary", "Alan").map((givenName) => ({ givenName })),
  fc.constantFrom("Hopper", "Lovelace", "Turing").map((familyName) => ({ familyName })),
  fc.constantFrom("+1 555 0100", "+44 20 7946 0000", null).map((phone) => ({ phone })),
  fc.constantFrom("a@example.test", "b@example.test", null).map((email) => ({ email })),
  fc.constantFrom("1950-01-01", "1961-07-04").map((dateOfBirth) => ({ dateOfBirth })),
  fc.constantFrom(
    null,
    { line1: "1 Main St", city: "Springfield", postalCode: "12345", country: "US" },
    { line1: "2 High St", city: "Oxford", postalCode: "OX1 1AA", country: "GB" },
  ).map((address) => ({ address })),
);

async function foldAll(store: Store, streamId: string, upTo?: number): Promise<PatientState> {
  const events = await readStream(store, streamId, { toVersion: upTo });
  return events.reduce((s, e) => patientDecider.evolve(s, e as never), patientDecider.initialState());
}

describeEachDatabase("aggregates and snapshots", (db) => {
  const store = () => storeOn(db(), eventRegistry);

  it("property: with or without snapshots, and at any version, loads equal the plain fold", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(editArb, { minLength: 1, maxLength: 25 }), fc.integer({ min: 2, max: 6 }), async (edits, every) => {
        const id = randomUUID();
        const streamId = patientStream(id);
        await handleCommand(store(), streamId, patientDecider, register(id), envelope(), { snapshotEvery: every });
        for (const changes of edits) {
          await handleCommand(
            store(),
            streamId,
            patientDecider,
            { type: "UpdatePatientDemographics", data: { patientId: id, changes, reason: "property test" }, metadata: { now } },
            envelope(),
            { snapshotEvery: every },
          );
        }
        const withSnapshots = await loadAggregate(store(), streamId, patientDecider);
        const without = await loadAggregate(store(), streamId, patientDecider, { useSnapshots: false });
        expect(withSnapshots.state).toEqual(without.state);
        expect(withSnapshots.version).toBe(without.version);
        expect(without.state).toEqual(await foldAll(store(), streamId));
        if (without.version >= every) expect(withSnapshots.fromSnapshot).not.toBeNull();
        for (let n = 0; n <= without.version; n++) {
          const at = await loadAtVersion(store(), streamId, patientDecider, n);
          expect(at.version).toBe(n);
          expect(at.state).toEqual(await foldAll(store(), streamId, n));
        }
      }),
      { numRuns: 8 },
    );
  });

  it("snapshots every N events, keeps the last few and the first of every historic run, and ignores a snapshot of another state version", async () => {
    const id = randomUUID();
    const streamId = patientStream(id);
    await handleCommand(store(), streamId, patientDecider, register(id), envelope(), { snapshotEvery: 2, keepSnapshots: 2, historicSnapshotEvery: 4 });
    for (let i = 0; i < 9; i++) {
      const result = await handleCommand(
        store(),
        streamId,
        patientDecider,
        { type: "UpdatePatientDemographics", data: { patientId: id, changes: { givenName: `Name${i}` }, reason: "r" }, metadata: { now } },
        envelope(),
        { snapshotEvery: 2, keepSnapshots: 2, historicSnapshotEvery: 4 },
      );
      expect(result.snapshotted).toBe(result.version % 2 === 0);
    }
    const kept = await db().prisma.snapshot.findMany({ where: { streamId }, select: { version: true }, orderBy: { version: "asc" } });
    // The newest two (8, 10) and the earliest of each run of four versions (2; 4; 8).
    expect(kept.map((s) => s.version)).toEqual([2, 4, 8, 10]);
    // A load at an old version starts from the historic snapshot below it, not from version 1.
    const old = await loadAtVersion(store(), streamId, patientDecider, 5);
    expect(old.fromSnapshot).toBe(4);
    expect(old.state).toEqual(await foldAll(store(), streamId, 5));

    // A snapshot written by an older state shape must not be used: it would poison the load.
    await saveSnapshot(db().prisma, { streamId, aggregateType: "patient", snapshotType: "patient", stateVersion: 0, version: 11, state: { status: "garbage" } }, 5);
    const loaded = await loadAggregate(store(), streamId, patientDecider);
    expect(loaded.fromSnapshot).toBe(10);
    expect(loaded.state).toEqual(await foldAll(store(), streamId));
  });

  it("loads the record as it was at a past moment", async () => {
    const id = randomUUID();
    const streamId = patientStream(id);
    await handleCommand(store(), streamId, patientDecider, register(id), envelope(), { snapshotEvery: 2 });
    const [registered] = await readStream(store(), streamId);
    await new Promise((r) => setTimeout(r, 15));
    for (const givenName of ["Ada", "Mary", "Alan"]) {
      await handleCommand(
        store(),
        streamId,
        patientDecider,
        { type: "UpdatePatientDemographics", data: { patientId: id, changes: { givenName }, reason: "r" }, metadata: { now } },
        envelope(),
        { snapshotEvery: 2 },
      );
    }
    const then = await loadAsOf(store(), streamId, patientDecider, registered!.metadata.recordedAt);
    expect(then.version).toBe(1);
    expect(then.state).toMatchObject({ givenName: "Grace" });
    const before = await loadAsOf(store(), streamId, patientDecider, new Date(registered!.metadata.recordedAt.getTime() - 1));
    expect(before).toMatchObject({ version: 0, state: { status: "unregistered" } });
    const latest = await loadAsOf(store(), streamId, patientDecider, new Date(Date.now() + 1000));
    expect(latest.state).toMatchObject({ givenName: "Alan" });
  });

  /** The store, with `racer` committed between the first attempt's load and its append. */
  const racedOnce = (racer: () => Promise<unknown>): Store => {
    let raced = false;
    return {
      ...store(),
      sql: async <R,>(text: string, params: readonly unknown[]) => {
        if (!raced && text.includes("append_to_stream")) {
          raced = true;
          await racer();
        }
        return store().sql<R>(text, params);
      },
    };
  };

  it("retries a retry-safe command on a conflict, but never one that carries the version the user saw", async () => {
    const id = randomUUID();
    const streamId = patientStream(id);
    await handleCommand(store(), streamId, patientDecider, register(id), envelope());
    const update = (givenName: string): PatientCommand => ({
      type: "UpdatePatientDemographics",
      data: { patientId: id, changes: { givenName }, reason: "r" },
      metadata: { now },
    });
    // A racing writer slips in between load and append on the first attempt only.
    const racingStore = racedOnce(() => handleCommand(store(), streamId, patientDecider, update("Racer"), envelope()));
    const result = await handleCommand(racingStore, streamId, patientDecider, update("Winner"), envelope(), { retries: 2 });
    expect(result.version).toBe(3);
    expect((await loadAggregate(store(), streamId, patientDecider)).state).toMatchObject({ givenName: "Winner" });

    await expect(
      handleCommand(store(), streamId, patientDecider, update("Stale"), envelope(), { expectedVersion: 2, retries: 5 }),
    ).rejects.toBeInstanceOf(ConcurrencyError);
  });

  it("a command decided again after a conflict takes the time of that decision, so the clinical order is the order it was decided in", async () => {
    const id = randomUUID();
    const streamId = patientStream(id);
    await handleCommand(store(), streamId, patientDecider, register(id), envelope());
    // The allergy was asked for first (its request's time), but "no known allergies" got in
    // between its load and its append; it is then decided again, on top of that.
    const askedAt = new Date(Date.now() - 60_000);
    const allergy: PatientCommand = {
      type: "RecordAllergy",
      data: { patientId: id, allergyId: randomUUID(), substance: { code: "penicillin", text: "Penicillin" }, reaction: "Hives", severity: "moderate", source: "patient", note: null },
      metadata: { now: askedAt },
    };
    const racingStore = racedOnce(() =>
      handleCommand(store(), streamId, patientDecider, { type: "RecordNoKnownAllergies", data: { patientId: id }, metadata: { now: new Date(Date.now() - 30_000) } }, envelope()),
    );
    expect((await handleCommand(racingStore, streamId, patientDecider, allergy, envelope(), { retries: 2 })).version).toBe(3);
    const [, noneKnown, recorded] = await readStream(store(), streamId);
    expect([noneKnown!.type, recorded!.type]).toEqual(["NoKnownAllergiesRecorded", "AllergyRecorded"]);
    expect(recorded!.metadata.occurredAt.getTime()).toBeGreaterThanOrEqual(noneKnown!.metadata.occurredAt.getTime());
    // As it happened by now: the record as it stands, not "no known allergies" beside an active allergy.
    const current = await loadAggregate(store(), streamId, patientDecider);
    expect(current.state).toMatchObject({ safety: { allergyStatus: "recorded" } });
    expect((await loadAtMoment(store(), streamId, patientDecider, { happenedBy: new Date(Date.now() + 1000) })).state).toEqual(current.state);
  });

  it("derives stable event ids from a command id", () => {
    const id = randomUUID();
    expect(eventIdFor(id, 0)).toBe(eventIdFor(id, 0));
    expect(eventIdFor(id, 0)).not.toBe(eventIdFor(id, 1));
    expect(eventIdFor(id, 0)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});
