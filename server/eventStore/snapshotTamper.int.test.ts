// A snapshot is only a cache: state with and without snapshots is identical, whatever the
// snapshots table holds. Snapshots are not in the hash chain, and the owner (or the app's role,
// which writes them) can relabel one: the state before an allergy was recorded, stored as the
// stream's newest version, would hide the allergy from the chart and the medication check while
// the log still verified. Sealing binds a snapshot to its stream and version, so one relabelled,
// copied to another stream or damaged fails to open and the load folds the events instead.
import { expect, it } from "vitest";
import { storeFor } from "../api/context";
import { patientDecider } from "../domain/patient/decider";
import { patientStream } from "../domain/streams";
import { callerFor, newPatient } from "../testing/caller";
import { describeEachDatabase } from "../testing/db";
import { loadAggregate } from "./aggregate";
import { sealState } from "./protect";
import { saveSnapshot } from "./snapshots";
import { loadAtMoment } from "./temporal";

describeEachDatabase("snapshots that were tampered with", (db) => {
  const patientWithAllergy = async () => {
    const api = callerFor(db(), ["clinician"]);
    const registered = newPatient();
    const { patientId } = await api.patient.register(registered);
    const stream = patientStream(patientId);
    const store = storeFor(db());
    const before = await loadAggregate(store, stream, patientDecider, { useSnapshots: false });
    const sealedBefore = await sealState(store, { streamId: stream, version: 1, stateVersion: patientDecider.stateVersion }, "patient", before.state);
    await api.patient.recordAllergy({ patientId, substance: { code: "penicillin", text: "Penicillin" }, reaction: "anaphylaxis", severity: "severe", source: "patient", note: null });
    const truth = await loadAggregate(store, stream, patientDecider, { useSnapshots: false });
    expect(truth.version).toBe(2);
    return { store, stream, sealedBefore, truth };
  };
  const plant = (stream: string, version: number, state: unknown) =>
    saveSnapshot(db().prisma, { streamId: stream, aggregateType: "patient", snapshotType: "patient", stateVersion: patientDecider.stateVersion, version, state });
  const allergies = (state: unknown) => (state as { safety: { allergies: unknown[] } }).safety.allergies;

  it("a snapshot of version 1 stored as version 2 does not hide the allergy recorded at version 2", async () => {
    const { store, stream, sealedBefore, truth } = await patientWithAllergy();
    await plant(stream, 2, sealedBefore);
    const loaded = await loadAggregate(store, stream, patientDecider);
    expect(allergies(loaded.state)).toHaveLength(1);
    expect(loaded.state).toEqual(truth.state);
    expect(loaded.fromSnapshot).toBeNull();
    const observed: number[] = [];
    const atMoment = await loadAtMoment(store, stream, patientDecider, {}, { onEvent: (e) => observed.push(e.version), snapshotAtMost: 2 });
    expect(atMoment.state).toEqual(truth.state);
  });

  it("a snapshot copied from another patient's stream is not that patient's state", async () => {
    const a = await patientWithAllergy();
    const b = await patientWithAllergy();
    await plant(b.stream, 2, a.sealedBefore);
    const loaded = await loadAggregate(b.store, b.stream, patientDecider);
    expect(loaded.state).toEqual(b.truth.state);
  });

  it("a patient's snapshot stored in clear, which needs no key to forge, is not used", async () => {
    const { store, stream, truth } = await patientWithAllergy();
    const forged = { ...(truth.state as object), safety: { ...(truth.state as { safety: object }).safety, allergies: [] } };
    await plant(stream, 2, forged);
    const loaded = await loadAggregate(store, stream, patientDecider);
    expect(allergies(loaded.state)).toHaveLength(1);
    expect(loaded.fromSnapshot).toBeNull();
  });

  it("a damaged snapshot is passed over, not an error on every load of the chart", async () => {
    const { store, stream, truth } = await patientWithAllergy();
    const sealed = (await sealState(store, { streamId: stream, version: 2, stateVersion: patientDecider.stateVersion }, "patient", truth.state)) as { $phi: { ct: string } };
    const ct = Buffer.from(sealed.$phi.ct, "base64");
    ct[0] = ct[0]! ^ 1;
    await plant(stream, 2, { ...sealed, $phi: { ...sealed.$phi, ct: ct.toString("base64") } });
    const loaded = await loadAggregate(store, stream, patientDecider);
    expect(loaded.state).toEqual(truth.state);
  });

  it("a snapshot of an older state version relabelled with the current one is not used", async () => {
    // After a state-version bump the old snapshots are passed over by their label; the app's role
    // can rewrite the label (state_version is a column it writes), so the seal names it too.
    const { store, stream, truth } = await patientWithAllergy();
    const olderShape = { ...(truth.state as object), safety: { ...(truth.state as { safety: object }).safety, allergies: [] } };
    const sealedOlder = await sealState(store, { streamId: stream, version: 2, stateVersion: patientDecider.stateVersion - 1 }, "patient", olderShape);
    await plant(stream, 2, sealedOlder);
    const loaded = await loadAggregate(store, stream, patientDecider);
    expect(allergies(loaded.state)).toHaveLength(1);
    expect(loaded).toMatchObject({ state: truth.state, fromSnapshot: null });
  });

  it("a genuine seal whose field list was rewritten, a forged state in clear beside it, is not used", async () => {
    // The envelope's list of the fields it holds is not under the seal: pointed at another key,
    // the genuine state opened there and the clear "state" beside it was taken as the record.
    const { store, stream, truth } = await patientWithAllergy();
    const sealed = (await sealState(store, { streamId: stream, version: 2, stateVersion: patientDecider.stateVersion }, "patient", truth.state)) as { $phi: object };
    const forged = { ...(truth.state as object), safety: { ...(truth.state as { safety: object }).safety, allergies: [] } };
    await plant(stream, 2, { state: forged, $phi: { ...sealed.$phi, f: ["x"] } });
    const loaded = await loadAggregate(store, stream, patientDecider);
    expect(allergies(loaded.state)).toHaveLength(1);
    expect(loaded).toMatchObject({ state: truth.state, fromSnapshot: null });
    // Nor the genuine envelope with a clear field added beside it.
    await plant(stream, 2, { ...sealed, state: forged });
    expect(await loadAggregate(store, stream, patientDecider)).toMatchObject({ state: truth.state, fromSnapshot: null });
  });

  it("an untouched snapshot is used", async () => {
    const { store, stream, truth } = await patientWithAllergy();
    await plant(stream, 2, await sealState(store, { streamId: stream, version: 2, stateVersion: patientDecider.stateVersion }, "patient", truth.state));
    const loaded = await loadAggregate(store, stream, patientDecider);
    expect(loaded).toMatchObject({ state: truth.state, fromSnapshot: 2 });
  });
});
