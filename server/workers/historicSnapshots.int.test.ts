// Historic snapshot backfill: long streams written without sparse snapshots (appended directly, as
// an import does) are found, given one per run of 500 versions, and a load at an old version then
// starts from one of them with the same state; a stream whose patient was erased is left out, one
// whose version is held by a snapshot of another state shape is reported, the stream's newest
// snapshots stay, and running it again writes nothing. On databases of their own: the count covers every stream.
import { randomUUID } from "node:crypto";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { appendToStream, loadAtVersion, saveSnapshot, type NewEvent } from "../eventStore";
import { patientDecider } from "../domain/patient/decider";
import { snapshotted } from "../domain/deciders";
import { patientStream } from "../domain/streams";
import { callerFor, codeOf, contextFor, newPatient } from "../testing/caller";
import { describeEachOwnDatabase, openFreshPostgresDatabase, pgUrl } from "../testing/db";
import type { Database } from "../db/client";
import { backfillHistoricSnapshots, countStreamsMissingHistoricSnapshots, type HistoricBackfillProgress } from "./historicSnapshots";

const envelope = () => ({ eventId: randomUUID(), occurredAt: new Date(), userId: "user-import", correlationId: "import", causationId: null });

const rename = (patientId: string, version: number): NewEvent => ({
  type: "PatientDemographicsUpdated",
  data: { patientId, changes: { givenName: `N${version}` }, previous: { givenName: `N${version - 1}` }, reason: "imported history" },
  ...envelope(),
});

/** Appends renames to the patient's stream, in batches, from `from` to `to` (versions): no snapshot is written. */
async function appendRenames(db: Database, patientId: string, from: number, to: number) {
  const store = contextFor(db, null).store;
  for (let v = from; v <= to; v += 100) {
    const batch = Array.from({ length: Math.min(100, to - v + 1) }, (_, i) => rename(patientId, v + i));
    await appendToStream(store, patientStream(patientId), batch, { expectedVersion: v - 1, aggregateType: "patient" });
  }
}

/** A patient appended directly (an import): a registration and renames to `events` versions. */
async function importedPatient(db: Database, events: number): Promise<string> {
  const patientId = randomUUID();
  const registered: NewEvent = {
    type: "PatientRegistered",
    data: { patientId, mrn: `T${randomUUID().replace(/-/g, "").slice(0, 10).toUpperCase()}`, givenName: "N1", familyName: "Imported", dateOfBirth: "1950-01-01", sex: "female", email: null, phone: null, address: null },
    ...envelope(),
  };
  await appendToStream(contextFor(db, null).store, patientStream(patientId), [registered], { expectedVersion: "no_stream", aggregateType: "patient" });
  await appendRenames(db, patientId, 2, events);
  return patientId;
}

describeEachOwnDatabase("historic snapshot backfill", (db) => {
  it("finds the long streams without them, writes one per run of 500 versions, and a load at an old version starts there with the same state", async () => {
    const store = contextFor(db(), null).store;
    const long = await importedPatient(db(), 1_234);
    await importedPatient(db(), 30); // short: nothing to write
    expect(await countStreamsMissingHistoricSnapshots(store, snapshotted)).toBe(1);

    const before = await loadAtVersion(store, patientStream(long), patientDecider, 1_123);
    expect(before.fromSnapshot).toBeNull();
    expect(before.eventsApplied).toBe(1_123);

    const progress: HistoricBackfillProgress[] = [];
    const result = await backfillHistoricSnapshots(store, snapshotted, { onProgress: (p) => progress.push(p) });
    expect(result).toEqual({ streams: 1, done: 1, snapshotsWritten: 2, erased: [], stillMissing: [], interrupted: false, lastStreamId: patientStream(long) });
    expect(progress[0]).toEqual({ streams: 1, done: 0, snapshotsWritten: 0 });
    expect(progress.at(-1)).toEqual({ streams: 1, done: 1, snapshotsWritten: 2 });
    const versions = await db().sql<{ version: number }>("SELECT version FROM snapshots WHERE stream_id = $1 ORDER BY version", [patientStream(long)]);
    expect(versions.map((r) => r.version)).toEqual([500, 1_000]);
    expect(await countStreamsMissingHistoricSnapshots(store, snapshotted)).toBe(0);

    const after = await loadAtVersion(store, patientStream(long), patientDecider, 1_123);
    expect(after.fromSnapshot).toBe(1_000);
    expect(after.eventsApplied).toBe(123);
    expect(after.state).toEqual(before.state);
    expect((after.state as { givenName: string }).givenName).toBe("N1123");
    // The snapshot of a patient's record is sealed under their key, as every snapshot is.
    const [stored] = await db().sql<{ data: string }>("SELECT data::text AS data FROM snapshots WHERE stream_id = $1 AND version = 500", [patientStream(long)]);
    expect(stored!.data).not.toContain("Imported");

    // Nothing left: a second run writes nothing.
    expect(await backfillHistoricSnapshots(store, snapshotted)).toEqual({ streams: 0, done: 0, snapshotsWritten: 0, erased: [], stillMissing: [], interrupted: false, lastStreamId: null });

    // The stream grows past another multiple without a snapshot (appended directly): found again, and only the new one written.
    await appendRenames(db(), long, 1_235, 1_600);
    expect(await countStreamsMissingHistoricSnapshots(store, snapshotted)).toBe(1);
    expect((await backfillHistoricSnapshots(store, snapshotted)).snapshotsWritten).toBe(1);
    const again = await db().sql<{ version: number }>("SELECT version FROM snapshots WHERE stream_id = $1 ORDER BY version", [patientStream(long)]);
    expect(again.map((r) => r.version)).toEqual([500, 1_000, 1_500]);
  });

  it("keeps the stream's newest snapshots when it writes an older one", async () => {
    const store = contextFor(db(), null).store;
    const patientId = await importedPatient(db(), 1_234);
    // The newest few and the run's earliest, as loads and commands leave them (their states do not matter here).
    for (const version of [1_000, 1_100, 1_150, 1_200]) {
      await saveSnapshot(store.db, { streamId: patientStream(patientId), aggregateType: "patient", snapshotType: "patient", stateVersion: patientDecider.stateVersion, version, state: {} });
    }
    const result = await backfillHistoricSnapshots(store, snapshotted);
    expect(result).toMatchObject({ streams: 1, done: 1, snapshotsWritten: 1, stillMissing: [] });
    const versions = await db().sql<{ version: number }>("SELECT version FROM snapshots WHERE stream_id = $1 ORDER BY version", [patientStream(patientId)]);
    expect(versions.map((r) => r.version)).toEqual([500, 1_000, 1_100, 1_150, 1_200]);
    await db().sql("DELETE FROM snapshots WHERE stream_id = $1", [patientStream(patientId)]);
    await backfillHistoricSnapshots(store, snapshotted);
  });

  it("skips a stream whose patient was erased, reports one whose version a snapshot of another state shape holds, and stops when asked", async () => {
    const store = contextFor(db(), null).store;
    // Registered in the console (so it can be erased there), then a long history appended directly.
    const registered = await callerFor(db(), ["clinician"]).patient.register(newPatient());
    const erasedId = registered.patientId;
    const [{ mrn } = { mrn: "" }] = await db().sql<{ mrn: string }>("SELECT mrn FROM rm_patients WHERE patient_id = $1", [erasedId]);
    await appendRenames(db(), erasedId, 2, 520);
    await callerFor(db(), ["admin"]).admin.erasePatient({ patientId: erasedId, confirmMrn: mrn, reason: "data subject request 2026-41" });
    await db().sql("DELETE FROM snapshots WHERE stream_id = $1", [patientStream(erasedId)]);

    const stale = await importedPatient(db(), 700);
    await saveSnapshot(store.db, { streamId: patientStream(stale), aggregateType: "patient", snapshotType: "patient", stateVersion: patientDecider.stateVersion + 1, version: 500, state: { shape: "another" } });

    const interrupted = new AbortController();
    interrupted.abort();
    const stopped = await backfillHistoricSnapshots(store, snapshotted, { signal: interrupted.signal });
    expect(stopped).toMatchObject({ streams: 1, done: 0, interrupted: true });

    // The erased patient's stream is not looked for (nor counted on Admin → Snapshots): nothing is sealed under a destroyed key.
    const result = await backfillHistoricSnapshots(store, snapshotted, { pageSize: 1 });
    expect(result).toEqual({ streams: 1, done: 1, snapshotsWritten: 0, erased: [], stillMissing: [patientStream(stale)], interrupted: false, lastStreamId: patientStream(stale) });
    expect(await db().sql("SELECT 1 FROM snapshots WHERE stream_id = $1", [patientStream(erasedId)])).toHaveLength(0);
    expect(await countStreamsMissingHistoricSnapshots(store, snapshotted)).toBe(1);
    await db().sql("DELETE FROM snapshots WHERE stream_id = $1 AND state_version <> $2", [patientStream(stale), patientDecider.stateVersion]);
    expect((await backfillHistoricSnapshots(store, snapshotted)).snapshotsWritten).toBe(1);
    expect(await countStreamsMissingHistoricSnapshots(store, snapshotted)).toBe(0);
    // The load at an old version of the stale-held stream still folds its own events, as before.
    const load = await loadAtVersion(store, patientStream(stale), patientDecider, 650);
    expect((load.state as { givenName: string }).givenName).toBe("N650");
  });

  it("goes in batches from where the last stopped: a batch whose time is up still looks at its first stream", async () => {
    const store = contextFor(db(), null).store;
    const ids = (await Promise.all([0, 1, 2].map(() => importedPatient(db(), 501)))).map(patientStream).sort();
    const timeUp = new AbortController();
    timeUp.abort();
    const seen: string[] = [];
    let after: string | undefined;
    for (let i = 0; i < 3; i++) {
      const batch = await backfillHistoricSnapshots(store, snapshotted, { signal: timeUp.signal, atLeast: 1, ...(after ? { after } : {}) });
      expect(batch).toMatchObject({ done: 1, snapshotsWritten: 1, interrupted: i < 2 });
      seen.push(batch.lastStreamId!);
      after = batch.lastStreamId!;
    }
    expect(seen).toEqual(ids);
    expect(await countStreamsMissingHistoricSnapshots(store, snapshotted)).toBe(0);
  });

  it("admin.writeHistoricSnapshots writes them in batches the page follows to the end; admins only", async () => {
    await importedPatient(db(), 700);
    await importedPatient(db(), 1_100);
    const admin = callerFor(db(), ["admin"]);
    for (const roles of [["clinician"], ["compliance"]] as const) expect(await codeOf(callerFor(db(), [...roles]).admin.writeHistoricSnapshots({}))).toBe("FORBIDDEN");
    expect(await codeOf(callerFor(db(), null).admin.writeHistoricSnapshots({}))).toBe("UNAUTHORIZED");
    let streams = 0;
    let written = 0;
    let after: string | undefined;
    for (let calls = 0; ; calls++) {
      expect(calls).toBeLessThan(10);
      const batch = await admin.admin.writeHistoricSnapshots(after ? { after } : {});
      streams += batch.streams;
      written += batch.snapshotsWritten;
      if (!batch.more) {
        expect(batch.remaining).toBe(0);
        break;
      }
      after = batch.lastStreamId!;
    }
    expect(streams).toBe(2);
    expect(written).toBe(3);
    // Nothing left: a call finds nothing and says so.
    expect(await admin.admin.writeHistoricSnapshots({})).toEqual({ streams: 0, snapshotsWritten: 0, stillMissing: 0, lastStreamId: null, more: false, remaining: 0 });
  });

  it("admin.snapshots says how many records lack historic snapshots, and the run of versions they cover", async () => {
    await importedPatient(db(), 510);
    const figures = await callerFor(db(), ["admin"]).admin.snapshots();
    expect(figures.historicEvery).toBe(500);
    expect(figures.streamsMissingHistoric).toBeGreaterThanOrEqual(1);
    await backfillHistoricSnapshots(contextFor(db(), null).store, snapshotted);
    expect((await callerFor(db(), ["admin"]).admin.snapshots()).streamsMissingHistoric).toBe(0);
  });
});

describe.skipIf(!pgUrl)("npm run snapshots:historic [postgresql, a database of its own]", () => {
  it("writes them with progress on stderr, says what it did, and exits 0; a second run finds nothing to do", { timeout: 120_000 }, async () => {
    const fresh = await openFreshPostgresDatabase(2);
    try {
      const patientId = await importedPatient(fresh.db, 1_001);
      const url = new URL(fresh.ownerUrl);
      const appUrl = Object.assign(new URL(pgUrl!), { pathname: url.pathname }).toString();
      const run = () =>
        spawnSync(join(process.cwd(), "node_modules", ".bin", "tsx"), ["server/cli/historicSnapshots.ts"], {
          encoding: "utf8",
          env: { ...process.env, DATABASE_URL: appUrl },
          timeout: 90_000,
        });
      const first = run();
      expect(first.status, first.stderr).toBe(0);
      expect(first.stderr).toMatch(/100% 1\/1 streams, 2 snapshots written/);
      expect(first.stdout).toContain("snapshots:historic: done, 1 stream folded, 2 snapshots written");
      const versions = await fresh.db.sql<{ version: number }>("SELECT version FROM snapshots WHERE stream_id = $1 ORDER BY version", [patientStream(patientId)]);
      expect(versions.map((r) => r.version)).toEqual([500, 1_000]);
      const second = run();
      expect(second.status, second.stderr).toBe(0);
      expect(second.stdout).toContain("no stream lacks historic snapshots");
    } finally {
      await fresh.drop();
    }
  });
});
