// A sealed payload altered in the database (as the owner, triggers off): every reader gets a
// clear authentication error, never garbage; the audit views show the event as stored, with a
// warning that says so. On an embedded database of its own: nothing else may read this log.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "../db/client";
import { eventRegistry } from "../domain/registry";
import { encounterStream, patientStream } from "../domain/streams";
import { loadAggregate, readStream, storeOn } from "../eventStore";
import { PhiAuthenticationError } from "../eventStore/phi";
import { patientDecider } from "../domain/patient/decider";
import { callerAs, codeOf, newPatient } from "../testing/caller";
import { openTestDatabase } from "../testing/db";
import type { SessionUser } from "./context";

const clinician: SessionUser = { id: "tamper-clinician", email: "tc@example.test", name: "Tam Clinician", roles: ["clinician"] };
const officer: SessionUser = { id: "tamper-officer", email: "to@example.test", name: "Tam Officer", roles: ["compliance"] };

describe("tampered PHI ciphertext [embedded, a database of its own]", () => {
  let db: Database;
  beforeAll(async () => {
    db = await openTestDatabase("embedded");
  });
  afterAll(async () => db?.close());

  it("fails authentication with a clear error on every read path, and the audit views show it as stored with a warning", async () => {
    const api = await callerAs(db, clinician);
    const input = newPatient();
    const { patientId } = await api.patient.register(input);
    const [event] = await db.sql<{ event_id: string; ct: string }>(
      "SELECT event_id::text AS event_id, data->'$phi'->>'ct' AS ct FROM events WHERE stream_id = $1",
      [patientStream(patientId)],
    );
    const bytes = Buffer.from(event!.ct, "base64");
    bytes[5] = bytes[5]! ^ 0x20;
    await db.sql("ALTER TABLE events DISABLE TRIGGER USER", []);
    try {
      await db.sql(`UPDATE events SET data = jsonb_set(data, '{$phi,ct}', to_jsonb($2::text)) WHERE event_id = $1::uuid`, [event!.event_id, bytes.toString("base64")]);
    } finally {
      await db.sql("ALTER TABLE events ENABLE TRIGGER USER", []);
    }

    // The process's key ring, which wrote it: its opened-payload cache matches only the exact
    // ciphertext it opened, so the altered one is decrypted, and refused.
    const store = storeOn(db, eventRegistry);
    await expect(readStream(store, patientStream(patientId))).rejects.toThrow(PhiAuthenticationError);
    await expect(readStream(store, patientStream(patientId))).rejects.toThrow(/PHI of PatientRegistered \(key .*\) failed authentication: the stored ciphertext was altered/);
    await expect(loadAggregate(store, patientStream(patientId), patientDecider)).rejects.toThrow(PhiAuthenticationError);

    // The compliance officer's event page: shown as stored (sealed), with the reason; no PHI, no garbage.
    const officerApi = await callerAs(db, officer);
    const detail = await officerApi.audit.event({ eventId: event!.event_id });
    expect(JSON.stringify(detail)).toContain("failed authentication");
    expect(JSON.stringify(detail)).not.toContain(input.familyName);
    // A command on the record refuses with the generic server fault rather than act on it.
    expect(await codeOf(api.patient.updateDemographics({ patientId, expectedVersion: 1, changes: { phone: "+1 555 0199" }, reason: "new number" }))).toBe("INTERNAL_SERVER_ERROR");
  });

  it("refuses another patient's sealed payload copied into this patient's stream: their PHI never reads as this patient's", async () => {
    // The seal binds its key and event type, not its place: the app's role appends, and a copy of
    // B's allergy, genuine ciphertext and all, appended to A's stream opened under B's key.
    const api = await callerAs(db, clinician);
    const a = await api.patient.register(newPatient());
    const b = await api.patient.register(newPatient());
    await api.patient.recordAllergy({ patientId: b.patientId, substance: { code: "latex", text: "Latex" }, reaction: "B's reaction", severity: "severe", source: "patient", note: null });
    const [allergy] = await db.sql<{ event_id: string }>("SELECT event_id::text AS event_id FROM events WHERE stream_id = $1 AND event_type = 'AllergyRecorded'", [patientStream(b.patientId)]);
    await db.sql("ALTER TABLE events DISABLE TRIGGER USER", []);
    try {
      await db.sql(
        `INSERT INTO events (event_id, stream_id, aggregate_type, event_type, event_version, version, data, metadata, occurred_at, user_id, correlation_id, causation_id)
         SELECT gen_random_uuid(), $2, aggregate_type, event_type, event_version, 2, data, metadata, occurred_at, user_id, correlation_id, causation_id
           FROM events WHERE event_id = $1::uuid`,
        [allergy!.event_id, patientStream(a.patientId)],
      );
      await db.sql("UPDATE streams SET version = 2 WHERE stream_id = $1", [patientStream(a.patientId)]);
    } finally {
      await db.sql("ALTER TABLE events ENABLE TRIGGER USER", []);
    }
    const store = storeOn(db, eventRegistry);
    await expect(readStream(store, patientStream(a.patientId))).rejects.toThrow(PhiAuthenticationError);
    await expect(loadAggregate(store, patientStream(a.patientId), patientDecider)).rejects.toThrow(/PHI of AllergyRecorded \(key .*\) failed authentication/);
    // B's own record reads as before.
    expect(JSON.stringify((await loadAggregate(store, patientStream(b.patientId), patientDecider)).state)).toContain("Latex");
  });

  it("refuses a sealed payload copied into another encounter's stream, of another patient or the same one", async () => {
    // An encounter's id names no patient, so the key id alone could not tell a copy: the seal
    // (envelope format 2) binds the event's stream and id.
    const api = await callerAs(db, clinician);
    const a = await api.patient.register(newPatient());
    const b = await api.patient.register(newPatient());
    const fromB = await api.encounter.start({ patientId: b.patientId, encounterType: "outpatient", reason: "B's confidential reason" });
    const intoA = await api.encounter.start({ patientId: a.patientId, encounterType: "outpatient", reason: "Review" });
    const laterB = await api.encounter.start({ patientId: b.patientId, encounterType: "outpatient", reason: "Follow-up" });
    const [started] = await db.sql<{ event_id: string }>("SELECT event_id::text AS event_id FROM events WHERE stream_id = $1 AND version = 1", [encounterStream(fromB.encounterId)]);
    const store = storeOn(db, eventRegistry);
    for (const target of [intoA.encounterId, laterB.encounterId]) {
      await db.sql("ALTER TABLE events DISABLE TRIGGER USER", []);
      try {
        await db.sql(
          `INSERT INTO events (event_id, stream_id, aggregate_type, event_type, event_version, version, data, metadata, occurred_at, user_id, correlation_id, causation_id)
           SELECT gen_random_uuid(), $2, aggregate_type, 'EncounterStarted', event_version, 2, data, metadata, occurred_at, user_id, correlation_id, causation_id
             FROM events WHERE event_id = $1::uuid`,
          [started!.event_id, encounterStream(target)],
        );
        await db.sql("UPDATE streams SET version = 2 WHERE stream_id = $1", [encounterStream(target)]);
      } finally {
        await db.sql("ALTER TABLE events ENABLE TRIGGER USER", []);
      }
      await expect(readStream(store, encounterStream(target))).rejects.toThrow(/PHI of EncounterStarted \(key .*\) failed authentication/);
    }
    // The original reads as before.
    expect(JSON.stringify(await readStream(store, encounterStream(fromB.encounterId)))).toContain("B's confidential reason");
  });
});
