// An install upgraded from a release before tamper evidence: its earlier events have no hash.
// Migration 20261208020000 gives them their hashes once, while no seal covers them, so a change
// to one is found like a change to any other event. On embedded databases of their own (the test
// rewrites the log as the owner, as such a release left it).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { generateKeyPairSync } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import type { Database } from "../db/client";
import { defaultMigrationsDir } from "../db/migrate";
import { callerFor, contextFor, newPatient } from "../testing/caller";
import { openTestDatabase } from "../testing/db";
import { sealLog, verifyLog } from "./integrity";

const backfill = readFileSync(join(defaultMigrationsDir, "20261208020000_hash_events_from_before_hashing", "migration.sql"), "utf8");

/** The log as a release before hashing wrote it: no event hash, no stream hash. */
async function asBeforeHashing(db: Database) {
  await db.sql("ALTER TABLE events DISABLE TRIGGER USER", []);
  await db.sql("UPDATE events SET hash = NULL", []);
  await db.sql("UPDATE streams SET last_hash = NULL", []);
  await db.sql("ALTER TABLE events ENABLE TRIGGER USER", []);
}

describe("events from before hashing [embedded]", () => {
  const opened: Database[] = [];
  afterEach(async () => {
    for (const db of opened.splice(0)) await db.close();
  });
  async function install() {
    const db = await openTestDatabase("embedded");
    opened.push(db);
    const clinician = callerFor(db, ["clinician"]);
    const a = await clinician.patient.register(newPatient());
    const b = await clinician.patient.register(newPatient());
    await clinician.patient.updateDemographics({ patientId: a.patientId, expectedVersion: 1, changes: { phone: "+1 555 0142" }, reason: "new number" });
    return { db, clinician, a, b, store: contextFor(db, null).store };
  }

  it("hashes them on the upgrade, so a change to one is named, and later appends chain on; a stream already hashed on after them is left", { timeout: 240_000 }, async () => {
    const { db, clinician, a, b, store } = await install();
    await asBeforeHashing(db);
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    const before = await verifyLog(store, [publicKey]);
    expect(before.eventsWithoutHash).toBe(before.eventsChecked);
    // Appended after hashing began, before this migration: chained on zeros, so left as it is.
    await clinician.patient.updateDemographics({ patientId: a.patientId, expectedVersion: 2, changes: { phone: "+1 555 0143" }, reason: "new number" });

    await db.sql(backfill, []);
    const after = await verifyLog(store, [publicKey]);
    expect(after.ok).toBe(true);
    const hashed = await db.sql<{ stream_id: string; hashed: boolean }>("SELECT stream_id, bool_and(hash IS NOT NULL) AS hashed FROM events WHERE stream_id = ANY($1) GROUP BY stream_id", [
      [`patient-${a.patientId}`, `patient-${b.patientId}`],
    ]);
    expect(Object.fromEntries(hashed.map((r) => [r.stream_id, r.hashed]))).toEqual({ [`patient-${a.patientId}`]: false, [`patient-${b.patientId}`]: true });
    expect(after.eventsWithoutHash).toBe(2);

    // Sealed like any other events, and new appends chain on the stream's last hash.
    await sealLog(store, privateKey);
    await clinician.patient.updateDemographics({ patientId: b.patientId, expectedVersion: 1, changes: { phone: "+1 555 0144" }, reason: "new number" });
    expect(await verifyLog(store, [publicKey])).toMatchObject({ ok: true, eventsWithoutHash: 2 });

    // A value of the old history changed by the owner is now found, by event.
    const [old] = await db.sql<{ event_id: string }>("SELECT event_id::text AS event_id FROM events WHERE stream_id = $1 AND version = 1", [`patient-${b.patientId}`]);
    await db.sql("ALTER TABLE events DISABLE TRIGGER USER", []);
    await db.sql(`UPDATE events SET data = jsonb_set(data, '{sex}', '"other"') WHERE event_id = $1::uuid`, [old!.event_id]);
    await db.sql("ALTER TABLE events ENABLE TRIGGER USER", []);
    const tampered = await verifyLog(store, [publicKey]);
    expect(tampered.ok).toBe(false);
    expect(tampered.problems[0]?.message).toContain(old!.event_id);
  });

  it("leaves them alone once a seal covers them (hashing them would break the seal), and the report counts them", { timeout: 240_000 }, async () => {
    const { db, store } = await install();
    await asBeforeHashing(db);
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    await sealLog(store, privateKey);
    await db.sql(backfill, []);
    const report = await verifyLog(store, [publicKey]);
    expect(report.ok).toBe(true);
    expect(report.eventsWithoutHash).toBe(report.eventsChecked);
  });
});
