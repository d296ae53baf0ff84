// Snapshots as an admin sees and operates them: the figures per aggregate type and state version,
// a check that finds a snapshot whose state is not the fold of its events, and a discard (stale
// only, or all) recorded as an operations event, after which loads are still right. On a
// database of its own per kind: the figures count the whole table.
import { expect, it } from "vitest";
import { loadAggregate, readStream, saveSnapshot } from "../eventStore";
import { sealState } from "../eventStore/protect";
import { snapshotsStream } from "../domain/operations/events";
import { patientDecider } from "../domain/patient/decider";
import { patientStream } from "../domain/streams";
import { storeFor } from "../api/context";
import { callerFor, codeOf, newPatient } from "../testing/caller";
import { describeEachOwnDatabase } from "../testing/db";
import { captureLogLines } from "../testing/logLines";
import { checkSnapshots } from "./snapshots";

describeEachOwnDatabase("snapshots, as an admin sees and operates them", (db, kind) => {
  const register = async () => {
    const patient = newPatient();
    const { patientId } = await callerFor(db(), ["clinician"]).patient.register(patient);
    return { ...patient, patientId, stream: patientStream(patientId) };
  };
  /** A snapshot at the stream's version, as handleCommand writes one (sealed), of `state` or the true state. */
  const snapshot = async (stream: string, over: { state?: (s: object) => object; stateVersion?: number } = {}) => {
    const store = storeFor(db());
    const loaded = await loadAggregate(store, stream, patientDecider, { useSnapshots: false });
    const state = over.state ? over.state(loaded.state as object) : loaded.state;
    const sealed = await sealState(store, { streamId: stream, version: loaded.version, stateVersion: over.stateVersion ?? patientDecider.stateVersion }, "patient", state);
    await saveSnapshot(db().prisma, { streamId: stream, aggregateType: "patient", snapshotType: "patient", stateVersion: over.stateVersion ?? patientDecider.stateVersion, version: loaded.version, state: sealed });
    return sealed;
  };
  const admin = () => callerFor(db(), ["admin"], { id: `admin-${kind}` });

  it("shows the figures, finds a planted mismatch and an unopenable snapshot, discards stale then all, recorded; loads stay right", async () => {
    const [good, wrong, stale, erased] = [await register(), await register(), await register(), await register()];
    await snapshot(good.stream);
    // A fold changed without a state version bump looks like this: the snapshot's state is not the fold of its events.
    await snapshot(wrong.stream, { state: (s) => ({ ...s, familyName: "Notthefold" }) });
    await snapshot(stale.stream, { stateVersion: patientDecider.stateVersion - 1 });
    // Sealed before the patient was erased (erasure deletes the snapshots it finds): its key is gone.
    const sealedBefore = await snapshot(erased.stream);
    await admin().admin.erasePatient({ patientId: erased.patientId, confirmMrn: erased.mrn, reason: "data subject request (test)" });
    await saveSnapshot(db().prisma, { streamId: erased.stream, aggregateType: "patient", snapshotType: "patient", stateVersion: patientDecider.stateVersion, version: 1, state: sealedBefore });

    const figures = await admin().admin.snapshots();
    expect(figures.snapshotEvery).toBeGreaterThanOrEqual(2);
    expect(figures.foldedWith).toContainEqual({ aggregateType: "patient", stateVersion: patientDecider.stateVersion });
    expect(figures.groups.map(({ bytes, newestAt, oldestAt, ...g }) => ({ ...g, sized: bytes > 0, ordered: newestAt >= oldestAt }))).toEqual([
      { aggregateType: "patient", stateVersion: patientDecider.stateVersion, used: true, snapshots: 3, streams: 3, sized: true, ordered: true },
      { aggregateType: "patient", stateVersion: patientDecider.stateVersion - 1, used: false, snapshots: 1, streams: 1, sized: true, ordered: true },
    ]);

    // Before the discard, a load trusts the wrong snapshot: the check is what tells.
    expect((await loadAggregate(storeFor(db()), wrong.stream, patientDecider)).state).toMatchObject({ familyName: "Notthefold" });
    const log = captureLogLines("warn");
    const check = await admin().admin.checkSnapshots({ sample: 200 }).finally(log.restore);
    expect(check.results.find((r) => r.aggregateType === "patient")).toEqual({
      aggregateType: "patient",
      stateVersion: patientDecider.stateVersion,
      checked: 3,
      matched: 1,
      unopenable: 1,
      mismatches: [{ streamId: wrong.stream, version: 1 }],
    });
    // Ids and counts only: no state, no PHI.
    const sent = JSON.stringify(check);
    for (const phi of [good.familyName, wrong.familyName, "Notthefold", good.mrn]) expect(sent).not.toContain(phi);
    // The operator's log says that some differ, with counts: no stream, no state.
    const warned = log.lines.filter((l) => l.includes("snapshots differ from a fold of their events"));
    expect(warned).toHaveLength(1);
    expect(JSON.parse(warned[0]!)).toMatchObject({ component: "snapshots", aggregateType: "patient", checked: 3, differ: 1 });
    for (const phi of [wrong.familyName, "Notthefold", wrong.patientId]) expect(warned[0]).not.toContain(phi);
    // A sample of one: the newest only.
    expect((await admin().admin.checkSnapshots({ sample: 1 })).results.find((r) => r.aggregateType === "patient")?.checked).toBe(1);

    const reason = "state version bump left old snapshots (OPS-131)";
    expect(await admin().admin.discardSnapshots({ aggregateType: "patient", which: "stale", reason })).toMatchObject({ discarded: 1, which: "stale" });
    // Again: nothing left to discard, nothing recorded.
    expect(await admin().admin.discardSnapshots({ aggregateType: "patient", which: "stale", reason })).toMatchObject({ discarded: 0 });
    expect((await admin().admin.snapshots()).groups.map((g) => [g.stateVersion, g.snapshots])).toEqual([[patientDecider.stateVersion, 3]]);

    expect(await admin().admin.discardSnapshots({ aggregateType: "patient", which: "all", reason: "a fold changed without a state version bump" })).toMatchObject({ discarded: 3 });
    expect((await admin().admin.snapshots()).groups).toEqual([]);
    const recorded = await readStream(storeFor(db()), snapshotsStream("patient"));
    expect(recorded.map((e) => ({ type: e.type, data: { ...e.data, bytes: Number(e.data.bytes) > 0 }, userId: e.metadata.userId }))).toEqual([
      { type: "SnapshotsDiscarded", data: { aggregateType: "patient", which: "stale", currentStateVersion: patientDecider.stateVersion, discarded: 1, bytes: true, reason }, userId: `admin-${kind}` },
      {
        type: "SnapshotsDiscarded",
        data: { aggregateType: "patient", which: "all", currentStateVersion: patientDecider.stateVersion, discarded: 3, bytes: true, reason: "a fold changed without a state version bump" },
        userId: `admin-${kind}`,
      },
    ]);
    // Loads fold from the events now: the wrong snapshot's state is gone, the true one back.
    for (const p of [good, wrong, stale]) {
      const loaded = await loadAggregate(storeFor(db()), p.stream, patientDecider);
      expect(loaded).toMatchObject({ fromSnapshot: null, version: 1, state: { familyName: p.familyName } });
    }
  });

  it("two admins discarding at once: the counts add up to what was there, one event per discard that removed any", async () => {
    const patients = await Promise.all(Array.from({ length: 6 }, register));
    for (const p of patients) await snapshot(p.stream);
    const before = await readStream(storeFor(db()), snapshotsStream("patient"));
    const [a, b] = await Promise.all([
      admin().admin.discardSnapshots({ aggregateType: "patient", which: "all", reason: "first admin" }),
      admin().admin.discardSnapshots({ aggregateType: "patient", which: "all", reason: "second admin" }),
    ]);
    expect(a.discarded + b.discarded).toBe(6);
    const after = (await readStream(storeFor(db()), snapshotsStream("patient"))).slice(before.length);
    // Each event says what its own DELETE removed, whichever committed first.
    const byReason = Object.fromEntries(after.map((e) => [e.data.reason, e.data.discarded]));
    expect(byReason).toEqual(Object.fromEntries([["first admin", a.discarded], ["second admin", b.discarded]].filter(([, n]) => Number(n) > 0)));
  });

  it("finds every snapshot wrong when the fold changed without a state version bump; a type no code folds is all dead weight", async () => {
    const p = await register();
    await snapshot(p.stream);
    // The same state version, a fold that now adds a field: loads would still trust the old snapshots.
    const changed: typeof patientDecider = { ...patientDecider, evolve: (s, e) => ({ ...patientDecider.evolve(s, e), flagged: false }) };
    const [result] = await checkSnapshots(storeFor(db()), [changed], 200);
    expect(result).toMatchObject({ checked: 1, matched: 0, mismatches: [{ streamId: p.stream, version: 1 }] });
    expect((await checkSnapshots(storeFor(db()), [patientDecider], 200))[0]).toMatchObject({ checked: 1, matched: 1, mismatches: [] });

    // Snapshots of a type this build has no decider for (a record kind retired): none is read.
    await saveSnapshot(db().prisma, { streamId: `retired-${p.patientId}`, aggregateType: "retired", snapshotType: "retired", stateVersion: 1, version: 50, state: { n: 1 } });
    expect((await admin().admin.snapshots()).groups.find((g) => g.aggregateType === "retired")).toMatchObject({ used: false, snapshots: 1 });
    expect(await admin().admin.discardSnapshots({ aggregateType: "retired", which: "stale", reason: "the retired kind's cache" })).toMatchObject({ discarded: 1 });
    const [event] = await readStream(storeFor(db()), snapshotsStream("retired"));
    expect(event?.data).toMatchObject({ which: "stale", currentStateVersion: null, discarded: 1 });
    // The patient's snapshot, of the version this build folds with, is untouched.
    expect((await admin().admin.snapshots()).groups).toMatchObject([{ aggregateType: "patient", used: true, snapshots: 1 }]);
  });

  it("is for admins only, and a reason is required", async () => {
    for (const roles of [["clinician"], ["compliance"]] as const) {
      const other = callerFor(db(), [...roles]);
      expect(await codeOf(other.admin.snapshots())).toBe("FORBIDDEN");
      expect(await codeOf(other.admin.checkSnapshots({ sample: 5 }))).toBe("FORBIDDEN");
      expect(await codeOf(other.admin.discardSnapshots({ aggregateType: "patient", which: "all", reason: "not mine to do" }))).toBe("FORBIDDEN");
    }
    expect(await codeOf(admin().admin.discardSnapshots({ aggregateType: "patient", which: "all", reason: "  " }))).toBe("BAD_REQUEST");
    expect(await codeOf(admin().admin.checkSnapshots({ sample: 201 }))).toBe("BAD_REQUEST");
  });
});
