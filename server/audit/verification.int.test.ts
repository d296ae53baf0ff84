// "Verify integrity" from the console: the same verification as npm run audit:verify, run in the
// background with progress; it names the first event that does not match. On an embedded
// database of its own (it verifies the whole log, and the test alters an event as the owner).
import { generateKeyPairSync } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "../db/client";
import { sealLog } from "../eventStore";
import { callerFor, codeOf, contextFor, newPatient } from "../testing/caller";
import { openTestDatabase } from "../testing/db";
import { startVerification, verificationById, type Verification } from "./verification";

async function finished(id: string): Promise<Verification> {
  for (let i = 0; i < 200; i++) {
    const run = verificationById(id)!;
    if (run.finishedAt) return run;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error("the verification did not finish");
}

describe("verify integrity from the console [embedded]", () => {
  let db: Database;
  beforeAll(async () => {
    db = await openTestDatabase("embedded");
  });
  afterAll(async () => {
    await db?.close();
  });

  it("verifies an untouched log, then names the event whose data was changed", async () => {
    const clinician = callerFor(db, ["clinician"]);
    const { patientId } = await clinician.patient.register(newPatient());
    await clinician.patient.updateDemographics({ patientId, expectedVersion: 1, changes: { phone: "+1 555 0142" }, reason: "new number" });
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    const store = contextFor(db, null).store;
    await sealLog(store, privateKey);

    const ok = await finished(startVerification(store, [publicKey], "officer").id);
    expect(ok.error).toBeNull();
    expect(ok.report).toMatchObject({ ok: true, problems: [] });
    expect(ok.done).toBe(ok.total);
    expect(ok.total).toBeGreaterThan(0);

    // As the owner with the triggers off (the embedded database's one user), one byte of one event.
    const [target] = await db.sql<{ event_id: string }>("SELECT event_id::text AS event_id FROM events WHERE stream_id = $1 AND version = 2", [`patient-${patientId}`]);
    await db.sql("ALTER TABLE events DISABLE TRIGGER USER", []);
    await db.sql(`UPDATE events SET data = jsonb_set(data, '{reason}', '"new numbes"') WHERE event_id = $1::uuid`, [target!.event_id]);
    await db.sql("ALTER TABLE events ENABLE TRIGGER USER", []);
    const bad = await finished(startVerification(store, [publicKey], "officer").id);
    expect(bad.report?.ok).toBe(false);
    expect(bad.report?.firstProblem).toContain(target!.event_id);

    const none = startVerification(store, [], "officer");
    expect(none.error).toContain("AUDIT_SIGNING_KEY");
  });

  it("runs one verification at a time: asking again while one runs returns that one", async () => {
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    const store = contextFor(db, null).store;
    await sealLog(store, privateKey);
    const first = startVerification(store, [publicKey], "officer-1");
    const again = Array.from({ length: 20 }, (_, i) => startVerification(store, [publicKey], `officer-${i + 2}`));
    expect(new Set(again.map((r) => r.id))).toEqual(new Set([first.id]));
    expect(again[0]!.startedBy).toBe("officer-1");
    expect((await finished(first.id)).report).not.toBeNull();
    // Once it has finished, the next request starts a new one.
    const next = startVerification(store, [publicKey], "officer-2");
    expect(next.id).not.toBe(first.id);
    expect((await finished(next.id)).startedBy).toBe("officer-2");
  });

  it("says a run failed without the database's words: the reference finds them in the server's log", async () => {
    const { publicKey } = generateKeyPairSync("ed25519");
    const real = contextFor(db, null).store;
    const failing = {
      ...real,
      sql: () => Promise.reject(Object.assign(new Error('relation "audit_seals" does not exist at SELECT seq, chain_hash FROM audit_seals'), { code: "42P01" })),
    } as typeof real;
    const run = await finished(startVerification(failing, [publicKey], "officer").id);
    expect(run.report).toBeNull();
    expect(run.error).toContain(`reference to support: ${run.id}`);
    expect(run.error).not.toMatch(/audit_seals|SELECT|relation/);
  });

  it("is for compliance only through the API, and an unknown run is NOT_FOUND", async () => {
    const officer = callerFor(db, ["compliance"]);
    const started = await officer.audit.startVerification();
    expect(started.id).toMatch(/^[0-9a-f-]{36}$/);
    expect((await officer.audit.verification({ id: started.id })).id).toBe(started.id);
    expect(await codeOf(officer.audit.verification({ id: "00000000-0000-4000-8000-000000000000" }))).toBe("NOT_FOUND");
    expect(await codeOf(callerFor(db, ["clinician"]).audit.startVerification())).toBe("FORBIDDEN");
    expect(await codeOf(callerFor(db, ["admin"]).audit.latestSeal())).toBe("FORBIDDEN");
    const seal = await officer.audit.latestSeal();
    expect(seal.seal?.seq).toBeGreaterThan(0);
    expect(seal.publicKey).toContain("BEGIN PUBLIC KEY");
    await finished(started.id);
  });
});
