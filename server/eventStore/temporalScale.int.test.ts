// A load at an old version of a 100,000-event stream starts from a sparse historic snapshot, not
// from version 1, and takes under 50 ms. In a database of its own: the long stream is laid down
// in bulk SQL as the owner and must not weigh on the other suites' reads of the whole log.
import { randomUUID } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describe } from "vitest";
import { patientDecider } from "../domain/patient/decider";
import { eventRegistry } from "../domain/registry";
import { patientStream } from "../domain/streams";
import { openFreshPostgresDatabase, pgUrl } from "../testing/db";
import { layLongPatientStream } from "../testing/longStream";
import type { Database } from "../db/client";
import { storeOn } from "./db";
import { loadAtVersion } from "./aggregate";
import { readStream } from "./read";
import { loadAtMoment, writeHistoricSnapshots } from "./temporal";

const EVENTS = 100_000;

describe.skipIf(!pgUrl)("time travel on a 100,000-event stream [postgresql, a database of its own]", () => {
  let fresh: { db: Database; ownerUrl: string; drop: () => Promise<void> } | undefined;
  const patientId = randomUUID();
  const streamId = patientStream(patientId);
  const store = () => storeOn(fresh!.db, eventRegistry);

  beforeAll(async () => {
    fresh = await openFreshPostgresDatabase(4);
    const owner = new pg.Client({ connectionString: fresh.ownerUrl });
    await owner.connect();
    try {
      await layLongPatientStream(owner, streamId, patientId, EVENTS);
      await owner.query("ANALYZE events");
    } finally {
      await owner.end();
    }
    expect(await writeHistoricSnapshots(store(), streamId, patientDecider, 500)).toBe(EVENTS / 500);
  }, 300_000);

  afterAll(async () => {
    await fresh?.drop();
  });

  it("loads an old version from a historic snapshot in under 50 ms", async () => {
    const target = 37_123;
    await loadAtVersion(store(), streamId, patientDecider, target); // warm the connection and plans
    const times: number[] = [];
    let loaded;
    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      loaded = await loadAtVersion(store(), streamId, patientDecider, target);
      times.push(performance.now() - started);
    }
    const median = times.sort((a, b) => a - b)[2]!;
    expect(loaded!.fromSnapshot).toBe(37_000);
    expect(loaded!.eventsApplied).toBe(123);
    expect((loaded!.state as { givenName: string }).givenName).toBe(`N${target}`);
    expect(median).toBeLessThan(50);
    const [event] = await readStream(store(), streamId, { fromVersion: target, toVersion: target });
    // As recorded at that event's instant: found by a binary search over versions, from the same snapshot, as fast.
    const recordedTimes: number[] = [];
    let asRecorded;
    for (let i = 0; i < 5; i++) {
      const started = performance.now();
      asRecorded = await loadAtMoment(store(), streamId, patientDecider, { recordedAt: event!.metadata.recordedAt });
      recordedTimes.push(performance.now() - started);
    }
    expect(asRecorded).toMatchObject({ lastVersion: target, fromSnapshot: 37_000, currentVersion: EVENTS });
    expect(asRecorded!.state).toEqual(loaded!.state);
    expect(recordedTimes.sort((a, b) => a - b)[2]!).toBeLessThan(50);
    // The same instant as it happened folds the stream page by page (clinical order) to the same state.
    const byMoment = await loadAtMoment(store(), streamId, patientDecider, { happenedBy: event!.metadata.occurredAt });
    expect(byMoment.lastVersion).toBe(target);
    expect(byMoment.state).toEqual(loaded!.state);
  }, 120_000);
});
