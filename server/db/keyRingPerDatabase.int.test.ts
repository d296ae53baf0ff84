// Data keys are rows of one database's phi_keys: a process on two databases (a test run, a tool)
// that registers the same patient id in both (the demo patients' ids are fixed) stores a key in
// each, and each database's events open with its own keys alone. A ring shared by the two sealed
// the second database's events under the first's cached key, never stored there.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { callerFor, newPatient } from "../testing/caller";
import { openFreshPostgresDatabase, pgUrl } from "../testing/db";
import { patientStream } from "../domain/streams";
import { eventRegistry } from "../domain/registry";
import { readStream, storeOn } from "../eventStore";
import { createKeyRing } from "../eventStore/phi";
import { env } from "./env";
import { masterKeysOf } from "./phiKey";

describe.skipIf(!pgUrl)("one key ring per database [postgresql, two databases of their own]", () => {
  let dbs: Awaited<ReturnType<typeof openFreshPostgresDatabase>>[] = [];
  beforeAll(async () => {
    dbs = [await openFreshPostgresDatabase(4), await openFreshPostgresDatabase(4)];
  }, 120_000);
  afterAll(async () => {
    for (const d of dbs) await d.drop();
  });

  it("stores a key in each database for the same patient id, and each database's events open with its own", { timeout: 60_000 }, async () => {
    const commandId = randomUUID();
    const input = newPatient();
    const ids: string[] = [];
    for (const { db } of dbs) {
      const api = callerFor(db, ["clinician"]);
      ids.push((await api.patient.register({ ...input, commandId })).patientId);
      // The chart read caches the patient's key: what a second database must not be given.
      await api.patient.history({ patientId: ids.at(-1)! });
    }
    expect(ids[1]).toBe(ids[0]);
    for (const { db } of dbs) {
      const keys = await db.sql<{ n: number }>("SELECT count(*)::int AS n FROM phi_keys WHERE subject_id = $1", [ids[0]]);
      expect(keys[0]!.n).toBe(1);
      // A reader with nothing cached (another process) opens them.
      const fresh = storeOn(db, eventRegistry, createKeyRing({ ...masterKeysOf(env()) }));
      const events = await readStream(fresh, patientStream(ids[0]!));
      expect(events[0]!.data).toMatchObject({ givenName: input.givenName });
    }
  });
});
