// Break-the-glass and the access log that answers "who has looked at this chart?".
import { randomUUID } from "node:crypto";
import { TRPCError } from "@trpc/server";
import { expect, it } from "vitest";
import { describeEachDatabase, describeEachOwnDatabase, withOwner } from "../testing/db";
import { callerAs, codeOf, newPatient, testUser } from "../testing/caller";
import type { Database } from "../db/client";
import type { SessionUser } from "./context";
import { MappedError } from "./errors";
import { EMERGENCY_ACCESS_HOURS } from "./emergencyAccess";

async function staff(db: Database, roles: SessionUser["roles"], name: string): Promise<SessionUser> {
  const user = testUser(roles, { name: `${name} ${randomUUID().slice(0, 6)}` });
  await db.prisma.user.create({ data: { id: user.id, name: user.name, email: user.email, roles } });
  return user;
}

async function refusal(promise: Promise<unknown>) {
  try {
    await promise;
  } catch (error) {
    if (error instanceof TRPCError) return { code: error.code, domain: error instanceof MappedError ? error.domain : null };
    throw error;
  }
  return null;
}

const forged = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");

describeEachDatabase("break the glass", (db, kind) => {
  async function setting() {
    const registrar = await staff(db(), ["clinician"], "Rita Registrar");
    const stranger = await staff(db(), ["clinician"], "Sam Stranger");
    const officer = await staff(db(), ["compliance"], "Olga Officer");
    const { patientId } = await (await callerAs(db(), registrar)).patient.register(newPatient());
    return { registrar, stranger, officer, patientId };
  }

  /** Ages a grant past its hours (as the owner, triggers off for this one row). */
  async function expire(accessId: string) {
    await withOwner(kind, db(), async (sql) => {
      await sql("ALTER TABLE emergency_access DISABLE TRIGGER emergency_access_no_update_delete");
      try {
        await sql("UPDATE emergency_access SET expires_at = now() - interval '1 minute' WHERE id = $1", [accessId]);
      } finally {
        await sql("ALTER TABLE emergency_access ENABLE TRIGGER emergency_access_no_update_delete");
      }
    });
  }

  it("refuses the chart of a patient not in the clinician's care until a reason is given, then opens it and logs the reason", async () => {
    const { registrar, stranger, officer, patientId } = await setting();
    // The registrar is the patient's clinician: no question asked.
    expect((await (await callerAs(db(), registrar)).patient.byId({ patientId })).patient.patientId).toBe(patientId);

    const clinician = await callerAs(db(), stranger);
    for (const call of [
      () => clinician.patient.byId({ patientId }),
      () => clinician.patient.history({ patientId }),
      () => clinician.patient.changesSince({ patientId, sinceVersion: 0 }),
      () => clinician.encounter.listForPatient({ patientId }),
    ]) {
      expect(await refusal(call())).toEqual({ code: "PRECONDITION_FAILED", domain: { kind: "break_the_glass", patientId } });
    }
    // A refused chart is not a read: nothing of it left the server.
    const before = await db().prisma.accessLog.count({ where: { patientId, userId: stranger.id } });
    expect(before).toBe(0);

    expect(await codeOf(clinician.patient.breakGlass({ patientId, reason: "short" }))).toBe("BAD_REQUEST");
    expect(await codeOf(clinician.patient.breakGlass({ patientId, reason: "x".repeat(501) }))).toBe("BAD_REQUEST");
    expect(await codeOf(clinician.patient.breakGlass({ patientId: randomUUID(), reason: "Covering the ward tonight" }))).toBe("NOT_FOUND");
    // A patient nobody has is not a chart to break the glass for, on every chart read.
    const nobody = randomUUID();
    for (const call of [
      () => clinician.patient.byId({ patientId: nobody }),
      () => clinician.patient.history({ patientId: nobody }),
      () => clinician.patient.changesSince({ patientId: nobody, sinceVersion: 0 }),
      () => clinician.encounter.listForPatient({ patientId: nobody }),
    ]) {
      expect(await codeOf(call())).toBe("NOT_FOUND");
    }

    const grant = await clinician.patient.breakGlass({ patientId, reason: "  Covering the ward tonight, patient deteriorating  " });
    expect(grant.hours).toBe(4);
    expect(grant.expiresAt.getTime() - Date.now()).toBeGreaterThan(3.9 * 3600_000);
    // Its length from the stored times: exactly the hours where the app owns the database (the
    // embedded one: grant time and expiry are one reading of the clock), a little less for the
    // app's role (the database stamps the grant time later). Never more, which the bound refuses.
    const [stored] = await db().sql<{ ms: number }>("SELECT (extract(epoch FROM expires_at - granted_at) * 1000)::float8 AS ms FROM emergency_access WHERE id = $1::uuid", [grant.accessId]);
    if (kind === "embedded") expect(stored?.ms).toBe(EMERGENCY_ACCESS_HOURS * 3600_000);
    else expect(stored?.ms).toBeLessThanOrEqual(EMERGENCY_ACCESS_HOURS * 3600_000);
    // Every later click of the grant's holder opens without asking again.
    expect((await clinician.patient.byId({ patientId })).patient.patientId).toBe(patientId);
    expect((await clinician.patient.history({ patientId })).items.length).toBeGreaterThan(0);
    // The grant is the stranger's alone.
    const other = await callerAs(db(), await staff(db(), ["clinician"], "Otto Other"));
    expect((await refusal(other.patient.byId({ patientId })))?.code).toBe("PRECONDITION_FAILED");

    const audit = await callerAs(db(), officer);
    const pending = await audit.audit.emergencyAccesses({ status: "needs_review", patientId });
    expect(pending.items).toHaveLength(1);
    expect(pending.items[0]).toMatchObject({
      accessId: grant.accessId,
      userId: stranger.id,
      userName: stranger.name,
      patientId,
      reason: "Covering the ward tonight, patient deteriorating",
      review: null,
    });
    expect(pending.items[0]?.patient?.name).toMatch(/^Ada Lovelace/);
  });

  it("refuses writes to a chart outside the clinician's care (demographics, allergies, alerts, encounters, new orders) until the glass is broken; the worklist's status changes stay open", async () => {
    const { registrar, stranger, patientId } = await setting();
    const own = await callerAs(db(), registrar);
    const { encounterId } = await own.encounter.start({ patientId, encounterType: "outpatient", reason: "Review" });
    const { orderId } = await own.order.create({ patientId, encounterId, kind: "lab", details: { code: "2345-7", description: "Glucose, serum" } });
    const penicillin = { substance: { code: "penicillin", text: "Penicillin" }, reaction: null, severity: "severe", source: "patient", note: null } as const;
    const { allergyId } = await own.patient.recordAllergy({ patientId, ...penicillin });
    const { alertId } = await own.patient.recordAlert({ patientId, kind: "fall_risk", note: "Unsteady on standing" });

    const clinician = await callerAs(db(), stranger);
    const refused = { code: "PRECONDITION_FAILED", domain: { kind: "break_the_glass", patientId } };
    expect(await refusal(clinician.patient.updateDemographics({ patientId, expectedVersion: 3, changes: { phone: "+1 555 0100" }, reason: "Typo" }))).toEqual(refused);
    expect(await refusal(clinician.encounter.start({ patientId, encounterType: "outpatient", reason: "Walk-in" }))).toEqual(refused);
    expect(await refusal(clinician.encounter.complete({ encounterId, expectedVersion: 1, outcome: "Well", dischargeDisposition: "home" }))).toEqual(refused);
    expect(await refusal(clinician.order.create({ patientId, kind: "lab", details: { code: "2345-7", description: "Glucose, serum" } }))).toEqual(refused);
    // Allergies and alerts too: refuting one switches off the medication check for later orders,
    // and the decider's refusals would quote the chart ("an active allergy to Penicillin ...").
    expect(await refusal(clinician.patient.recordAllergy({ patientId, ...penicillin }))).toEqual(refused);
    expect(await refusal(clinician.patient.recordNoKnownAllergies({ patientId }))).toEqual(refused);
    expect(await refusal(clinician.patient.closeAllergy({ patientId, allergyId, outcome: "refuted", reason: "Recorded in error" }))).toEqual(refused);
    expect(await refusal(clinician.patient.recordAlert({ patientId, kind: "fall_risk", note: "Unsteady" }))).toEqual(refused);
    expect(await refusal(clinician.patient.resolveAlert({ patientId, alertId, reason: "Walks unaided now" }))).toEqual(refused);
    // Nothing was written by the refused commands.
    expect(await db().prisma.event.count({ where: { userId: stranger.id } })).toBe(0);
    // A record that does not exist is the decider's to refuse, as for anyone, not a question about care.
    const unknown = { encounterId: randomUUID(), expectedVersion: 1, outcome: "Well", dischargeDisposition: "home" } as const;
    expect(await codeOf(clinician.encounter.complete(unknown))).toBe(await codeOf(own.encounter.complete(unknown)));
    expect(await codeOf(clinician.encounter.complete(unknown))).not.toBe("PRECONDITION_FAILED");

    // Whoever performs an order moves it from the department's worklist.
    expect((await clinician.order.changeStatus({ orderId, newStatus: "in_progress", expectedVersion: 1 })).status).toBe("in_progress");

    await clinician.patient.breakGlass({ patientId, reason: "Covering the ward tonight" });
    expect((await clinician.patient.updateDemographics({ patientId, expectedVersion: 3, changes: { phone: "+1 555 0177" }, reason: "Typo" })).changed).toBe(true);
    expect((await clinician.encounter.complete({ encounterId, expectedVersion: 1, outcome: "Well", dischargeDisposition: "home" })).version).toBe(2);
    expect((await clinician.patient.closeAllergy({ patientId, allergyId, outcome: "refuted", reason: "Tolerated amoxicillin" })).changed).toBe(true);
  });

  it("records a review with who, when and the note, once, and never lets it change", async () => {
    const { stranger, officer, patientId } = await setting();
    const { accessId } = await (await callerAs(db(), stranger)).patient.breakGlass({ patientId, reason: "Consult requested by the ED" });
    const audit = await callerAs(db(), officer);

    expect(await codeOf(audit.audit.reviewEmergencyAccess({ accessId, note: "" }))).toBe("BAD_REQUEST");
    expect(await codeOf(audit.audit.reviewEmergencyAccess({ accessId: randomUUID(), note: "Checked" }))).toBe("NOT_FOUND");
    const review = await audit.audit.reviewEmergencyAccess({ accessId, note: "Confirmed with the ED rota" });
    expect(review).toMatchObject({ accessId, reviewerId: officer.id, note: "Confirmed with the ED rota" });
    expect(Math.abs(review.reviewedAt.getTime() - Date.now())).toBeLessThan(60_000);

    const again = await refusal(audit.audit.reviewEmergencyAccess({ accessId, note: "Second thoughts" }));
    expect(again?.code).toBe("PRECONDITION_FAILED");

    expect((await audit.audit.emergencyAccesses({ status: "needs_review", patientId })).items).toEqual([]);
    const reviewed = await audit.audit.emergencyAccesses({ status: "reviewed", patientId });
    expect(reviewed.items[0]?.review).toMatchObject({ reviewerId: officer.id, reviewerName: officer.name, note: "Confirmed with the ED rota" });

    // Append-only, for the owner too (the trigger), and the app role lacks the privilege.
    await withOwner(kind, db(), async (sql) => {
      await expect(sql("UPDATE emergency_access_review SET note = 'edited' WHERE access_id = $1", [accessId])).rejects.toThrow(/append-only/);
      await expect(sql("DELETE FROM emergency_access WHERE id = $1", [accessId])).rejects.toThrow(/append-only/);
      await expect(sql("UPDATE emergency_access SET reason = 'edited' WHERE id = $1", [accessId])).rejects.toThrow(/append-only/);
    });
    if (kind === "postgresql") {
      await expect(db().prisma.$executeRaw`UPDATE emergency_access SET reason = 'x' WHERE id = ${accessId}::uuid`).rejects.toThrow(/permission denied/);
      const privileges = await withOwner(kind, db(), (sql) =>
        sql(
          `SELECT table_name, string_agg(privilege_type, ',' ORDER BY privilege_type) AS p FROM information_schema.role_table_grants
            WHERE grantee = 'emr_app' AND table_name IN ('emergency_access', 'emergency_access_review', 'access_log') GROUP BY table_name ORDER BY table_name`,
        ),
      );
      expect(privileges).toEqual([
        { table_name: "access_log", p: "INSERT,SELECT" },
        { table_name: "emergency_access", p: "INSERT,SELECT" },
        { table_name: "emergency_access_review", p: "INSERT,SELECT" },
      ]);
    }
  });

  it("bounds a grant to EMERGENCY_ACCESS_HOURS from the time the database gives it, whoever writes it", async () => {
    // Each insert in a transaction rolled back: the review list stays as it was. Answers the
    // row written, or the error.
    class RolledBack extends Error {
      constructor(readonly row: unknown) {
        super("rolled back");
      }
    }
    const insert = (expires: string) =>
      db()
        .prisma.$transaction(async (tx) => {
          const [row] = await tx.$queryRawUnsafe<{ granted_at: Date; expires_at: Date }[]>(
            `INSERT INTO emergency_access (id, user_id, patient_id, reason, expires_at, correlation_id)
             VALUES (gen_random_uuid(), 'someone', gen_random_uuid(), 'bounded by the database', ${expires}, 'bound')
             RETURNING granted_at, expires_at`,
          );
          throw new RolledBack(row);
        })
        .catch((error: unknown) => (error instanceof RolledBack ? error.row : (error as Error)));
    // What breakGlass writes: its hours from the statement's clock, a moment before the stamp.
    const held = await insert(`date_trunc('milliseconds', clock_timestamp()) + interval '${EMERGENCY_ACCESS_HOURS} hours'`);
    expect(held).toMatchObject({ granted_at: expect.any(Date) });
    // A minute longer, or the decades of a standing grant: refused.
    for (const expires of [`clock_timestamp() + interval '${EMERGENCY_ACCESS_HOURS} hours 1 minute'`, "'2099-01-01'"]) {
      const refused = await insert(expires);
      expect(refused).toBeInstanceOf(Error);
      expect((refused as Error).message).toMatch(new RegExp(`at most ${EMERGENCY_ACCESS_HOURS} hours`));
    }
  });

  it("refuses a review of one's own emergency access (an account that is clinician and compliance); the list marks it as theirs", async () => {
    const { officer, patientId } = await setting();
    const both = await staff(db(), ["clinician", "compliance"], "Dana Dual");
    const { accessId } = await (await callerAs(db(), both)).patient.breakGlass({ patientId, reason: "Covering the ward tonight" });
    const asBoth = await callerAs(db(), both);
    expect(await codeOf(asBoth.audit.reviewEmergencyAccess({ accessId, note: "Fine by me" }))).toBe("FORBIDDEN");
    const mine = (await asBoth.audit.emergencyAccesses({ status: "needs_review", patientId })).items.find((i) => i.accessId === accessId);
    expect(mine).toMatchObject({ own: true, review: null });
    // Another officer sees it as anyone's, and may review it.
    const asOfficer = await callerAs(db(), officer);
    expect((await asOfficer.audit.emergencyAccesses({ status: "needs_review", patientId })).items.find((i) => i.accessId === accessId)?.own).toBe(false);
    expect(await asOfficer.audit.reviewEmergencyAccess({ accessId, note: "Confirmed with the ward" })).toMatchObject({ reviewerId: officer.id });
  });

  it("shows the reviewer what a grant was used for: chart views, changes by type, and care that outlasts it", async () => {
    const { stranger, officer, patientId } = await setting();
    const clinician = await callerAs(db(), stranger);
    const { accessId } = await clinician.patient.breakGlass({ patientId, reason: "Called to the ED resus bay" });
    const audit = await callerAs(db(), officer);
    const useOf = async () => (await audit.audit.emergencyAccesses({ status: "all", patientId })).items.find((i) => i.accessId === accessId)?.use;
    expect(await useOf()).toEqual({ views: 0, changes: [], lastingCare: false });

    await clinician.patient.byId({ patientId, viewId: randomUUID() });
    await clinician.patient.byId({ patientId, viewId: randomUUID() });
    const { encounterId } = await clinician.encounter.start({ patientId, encounterType: "emergency", reason: "Chest pain" });
    await clinician.order.create({ patientId, encounterId, kind: "lab", details: { description: "Troponin" }, priority: "stat" });
    const used = await useOf();
    expect(used).toMatchObject({ views: 2, lastingCare: true });
    expect(used?.changes).toEqual([
      { eventType: "EncounterStarted", count: 1 },
      { eventType: "OrderCreated", count: 1 },
    ]);
    // Someone else's changes, and the clinician's own on another patient, are not this grant's.
    const other = await (await callerAs(db(), stranger)).patient.register(newPatient());
    await clinician.encounter.start({ patientId: other.patientId, encounterType: "outpatient" });
    expect((await useOf())?.changes).toHaveLength(2);
    // The review export says the same in words.
    const { describeGrantUse } = await import("../../shared/audit/grantUse");
    expect(describeGrantUse(used!)).toBe(
      "opened the chart 2 times; changed: encounter started, order created; now in their care (an encounter or order of theirs): the chart stays open to them after the grant",
    );
  });

  it("counts an encounter or order of the clinician's as care, and expires a grant after its hours", async () => {
    const { registrar, stranger, patientId } = await setting();
    const clinician = await callerAs(db(), stranger);
    const granted = await clinician.patient.breakGlass({ patientId, reason: "Night cover for the ward" });
    // Past its hours, the chart asks again.
    await expire(granted.accessId);
    expect((await refusal(clinician.patient.byId({ patientId })))?.code).toBe("PRECONDITION_FAILED");
    // Starting an encounter is a write to the chart: it asks too, or it would be a way round the glass.
    expect((await refusal(clinician.encounter.start({ patientId, encounterType: "outpatient", reason: "Follow-up" })))?.code).toBe("PRECONDITION_FAILED");
    // An encounter with them as the attending clinician (assigned by the patient's clinician) puts the patient in their care.
    await (await callerAs(db(), registrar)).encounter.start({ patientId, encounterType: "outpatient", reason: "Follow-up", providerId: stranger.id });
    expect((await clinician.patient.byId({ patientId })).patient.patientId).toBe(patientId);
  });

  it("lets a clinician under the glass name only themselves as provider: a grant is not standing access for a colleague", async () => {
    const { registrar, stranger, patientId } = await setting();
    const colleague = await staff(db(), ["clinician"], "Cora Colleague");
    const clinician = await callerAs(db(), stranger);
    await clinician.patient.breakGlass({ patientId, reason: "Covering the emergency department" });
    const written = () => db().prisma.event.count({ where: { aggregateType: { in: ["encounter", "order"] }, data: { path: ["patientId"], equals: patientId } } });
    const before = await written();
    const order = clinician.order.create({ patientId, kind: "lab", details: { description: "BMP" }, providerId: colleague.id });
    await expect(order).rejects.toThrow(/breaking the glass: you can name only yourself/);
    expect(await codeOf(clinician.order.create({ patientId, kind: "lab", details: { description: "BMP" }, providerId: colleague.id }))).toBe("FORBIDDEN");
    expect(await codeOf(clinician.encounter.start({ patientId, encounterType: "emergency", reason: "Chest pain", providerId: colleague.id }))).toBe("FORBIDDEN");
    expect(await written()).toBe(before);
    // The colleague's chart still asks for their own reason.
    expect((await refusal((await callerAs(db(), colleague)).patient.byId({ patientId })))?.code).toBe("PRECONDITION_FAILED");
    // Themselves, named or not, as before.
    await clinician.order.create({ patientId, kind: "lab", details: { description: "BMP" }, providerId: stranger.id });
    await clinician.encounter.start({ patientId, encounterType: "emergency", reason: "Chest pain" });
    // Now in their care (their encounter), they may name a colleague, as the registrar may.
    await clinician.order.create({ patientId, kind: "lab", details: { description: "Troponin" }, providerId: colleague.id });
    await (await callerAs(db(), registrar)).order.create({ patientId, kind: "lab", details: { description: "CBC" }, providerId: colleague.id });
    expect((await (await callerAs(db(), colleague)).patient.byId({ patientId })).patient.patientId).toBe(patientId);
  });

  it("records one access for a reason sent twice (a double-click, at once or after), and a new one only after the grant expired", async () => {
    const { stranger, patientId } = await setting();
    const clinician = await callerAs(db(), stranger);
    const [a, b] = await Promise.all([
      clinician.patient.breakGlass({ patientId, reason: "Covering the ward tonight" }),
      clinician.patient.breakGlass({ patientId, reason: "Covering the ward tonight" }),
    ]);
    expect(b.accessId).toBe(a.accessId);
    expect([a.repeated, b.repeated].sort()).toEqual([false, true]);
    // Later inside the grant, even with other words: the same access, not extended.
    const again = await clinician.patient.breakGlass({ patientId, reason: "Still covering the ward" });
    expect(again).toMatchObject({ accessId: a.accessId, expiresAt: a.expiresAt, repeated: true });
    const rows = () => db().prisma.$queryRaw<{ id: string }[]>`SELECT id::text AS id FROM emergency_access WHERE user_id = ${stranger.id} AND patient_id = ${patientId}::uuid`;
    expect(await rows()).toHaveLength(1);
    await expire(a.accessId);
    const later = await clinician.patient.breakGlass({ patientId, reason: "Called back to the ward" });
    expect(later.repeated).toBe(false);
    expect(later.accessId).not.toBe(a.accessId);
    expect(await rows()).toHaveLength(2);
  });

  it("keeps admins and compliance out of the clinical chart", async () => {
    const { patientId } = await setting();
    for (const roles of [["admin"], ["compliance"], ["admin", "compliance"]] as const) {
      const caller = await callerAs(db(), await staff(db(), [...roles], "Not Clinical"));
      expect(await codeOf(caller.patient.byId({ patientId }))).toBe("FORBIDDEN");
      expect(await codeOf(caller.patient.history({ patientId }))).toBe("FORBIDDEN");
      expect(await codeOf(caller.patient.breakGlass({ patientId, reason: "Just curious about this" }))).toBe("FORBIDDEN");
      expect(await codeOf(caller.encounter.listForPatient({ patientId }))).toBe("FORBIDDEN");
    }
  });
});

describeEachDatabase("who has looked at this chart", (db) => {
  it("keeps a chart opening under a view id first spent on history: the screen is part of the de-duplication key", async () => {
    const nurse = await staff(db(), ["clinician"], "Hedda Hider");
    const officer = await callerAs(db(), await staff(db(), ["compliance"], "Olga Officer"));
    const clinician = await callerAs(db(), nurse);
    const screensOf = async (patientId: string) =>
      (await db().prisma.accessLog.findMany({ where: { patientId, userId: nurse.id }, orderBy: { id: "asc" }, select: { screen: true } })).map((r) => r.screen);

    const { patientId } = await clinician.patient.register(newPatient());
    const viewId = randomUUID();
    await clinician.patient.history({ patientId, viewId });
    await clinician.patient.byId({ patientId, viewId });
    await clinician.patient.byId({ patientId, viewId });
    expect(await screensOf(patientId)).toEqual(["history", "chart"]);

    // The chart screen itself (the chart, then its history under the same view id) is still one row.
    const other = (await clinician.patient.register(newPatient())).patientId;
    const chartView = randomUUID();
    await clinician.patient.byId({ patientId: other, viewId: chartView });
    await clinician.patient.history({ patientId: other, viewId: chartView });
    await clinician.patient.byId({ patientId: other, viewId: chartView });
    expect(await screensOf(other)).toEqual(["chart"]);

    const { users } = await officer.audit.userActivity({ userId: nurse.id });
    expect(users).toHaveLength(1);
    expect(users[0]).toMatchObject({ chartsOpened: 2, patients: 2, views: 3 });
  });

  it("logs one row per screen view, in words, with 'listed in search' apart from 'opened the chart'", async () => {
    const nurse = await staff(db(), ["clinician"], "Nina Nurse");
    const officer = await staff(db(), ["compliance"], "Oscar Officer");
    const patient = newPatient();
    const clinician = await callerAs(db(), nurse);
    const { patientId } = await clinician.patient.register(patient);

    await clinician.patient.list({ search: patient.familyName });
    // One chart screen: the chart, its history, a refetch on focus; all with the screen's view id.
    const viewId = randomUUID();
    await clinician.patient.byId({ patientId, viewId });
    await clinician.patient.history({ patientId, viewId });
    await clinician.patient.byId({ patientId, viewId });
    // The chart opened again later: a second view.
    await clinician.patient.byId({ patientId, viewId: randomUUID() });
    await clinician.patient.byId({ patientId, screen: "edit", viewId: randomUUID() });

    const audit = (await callerAs(db(), officer)).audit;
    const log = await audit.accessLog({ patientId });
    expect(log.rows.map((r) => r.screen)).toEqual(["opened the chart to edit demographics", "opened the chart", "opened the chart", "listed in search"]);
    expect(log.rows[0]).toMatchObject({ userName: nurse.name, patient: { name: `Ada ${patient.familyName}`, mrn: patient.mrn } });

    const readers = await audit.readers({ patientId, from: new Date(Date.now() - 3600_000) });
    // The officer's own look at the log names the patient too: a reader, through a listing.
    expect(readers.groups.map((g) => g.userId)).toEqual([officer.id, nurse.id]);
    expect(readers.groups[0]).toMatchObject({ views: 1, screens: [{ screen: "listed in the access log", views: 1 }] });
    expect(readers.groups[1]).toMatchObject({
      userId: nurse.id,
      userName: nurse.name,
      views: 4,
      screens: [
        { screen: "opened the chart", views: 2 },
        { screen: "listed in search", views: 1 },
        { screen: "opened the chart to edit demographics", views: 1 },
      ],
    });
    expect(readers.groups[1]!.first.getTime()).toBeLessThanOrEqual(readers.groups[1]!.last.getTime());
    expect((await audit.readers({ patientId, to: new Date(Date.now() - 3600_000) })).groups).toEqual([]);
    // No procedure names anywhere in the answers.
    expect(JSON.stringify([log, readers])).not.toMatch(/patient\.(byId|list|history)/);
  });

  it("groups readers by user, latest first, keyset-paged; a forged cursor is BAD_REQUEST", async () => {
    const officer = await staff(db(), ["compliance"], "Pia Officer");
    const owner = await staff(db(), ["clinician"], "Carl Clinician");
    const { patientId } = await (await callerAs(db(), owner)).patient.register(newPatient());
    const readers = [owner, await staff(db(), ["clinician"], "Dora Doctor"), await staff(db(), ["clinician"], "Emil Emergency")];
    for (const reader of readers) {
      const caller = await callerAs(db(), reader);
      if (reader !== owner) await caller.patient.breakGlass({ patientId, reason: "Covering for a colleague" });
      await caller.patient.byId({ patientId });
    }
    const audit = (await callerAs(db(), officer)).audit;
    const all = await audit.readers({ patientId });
    expect(all.groups.map((g) => g.userId)).toEqual([...readers].reverse().map((r) => r.id));
    const first = await audit.readers({ patientId, limit: 2 });
    expect(first.nextCursor).not.toBeNull();
    const second = await audit.readers({ patientId, limit: 2, cursor: first.nextCursor! });
    expect([...first.groups, ...second.groups].map((g) => g.userId)).toEqual(all.groups.map((g) => g.userId));
    expect(second.nextCursor).toBeNull();

    const rows = await audit.accessLog({ patientId, limit: 1 });
    expect((await audit.accessLog({ patientId, limit: 1, cursor: rows.nextCursor! })).rows).toHaveLength(1);

    for (const cursor of ["not-base64!", forged({ id: "99999999999999999999" }), forged({ id: "1; DROP TABLE access_log" }), forged({ last: "yesterday", user: "x" }), "e30"]) {
      expect(await codeOf(audit.accessLog({ patientId, cursor }))).toBe("BAD_REQUEST");
      expect(await codeOf(audit.readers({ patientId, cursor }))).toBe("BAD_REQUEST");
      expect(await codeOf(audit.userActivity({ cursor }))).toBe("BAD_REQUEST");
      expect(await codeOf(audit.emergencyAccesses({ cursor }))).toBe("BAD_REQUEST");
    }
  });

  it("finds a patient by the name typed and a user by name; an unknown one says so instead of 'no reads'", async () => {
    const officer = await staff(db(), ["compliance"], "Quinn Officer");
    const clinician = await staff(db(), ["clinician"], `Zelda Unusualname`);
    const patient = newPatient({ familyName: `Snoopee${randomUUID().slice(0, 6)}` });
    const { patientId } = await (await callerAs(db(), clinician)).patient.register(patient);
    const audit = (await callerAs(db(), officer)).audit;

    const found = await audit.patients({ search: patient.familyName });
    expect(found.items.map((p) => p.patientId)).toEqual([patientId]);
    expect((await audit.patients({ search: `Nobody${randomUUID().slice(0, 8)}` })).items).toEqual([]);
    const users = await audit.users({ search: "unusualname" });
    expect(users.users).toContainEqual({ id: clinician.id, name: clinician.name, email: clinician.email });

    // Raw text where an id belongs is refused, and an id nobody has is NOT_FOUND: never an empty, all-clear log.
    expect(await codeOf(audit.accessLog({ patientId: patient.familyName }))).toBe("BAD_REQUEST");
    expect(await codeOf(audit.accessLog({ patientId: randomUUID() }))).toBe("NOT_FOUND");
    expect(await codeOf(audit.accessLog({ userId: "Zelda" }))).toBe("NOT_FOUND");
    expect(await codeOf(audit.readers({ patientId: randomUUID() }))).toBe("NOT_FOUND");
    expect((await audit.accessLog({ patientId, userId: clinician.id })).rows).toEqual([]);
  });

  it("summarises per user across patients: charts opened, lists apart, emergency accesses, most charts first", async () => {
    const officer = await staff(db(), ["compliance"], "Rosa Officer");
    const snoop = await staff(db(), ["clinician"], "Sid Snoop");
    const steady = await staff(db(), ["clinician"], "Tess Steady");
    const registrar = await callerAs(db(), steady);
    const patients = [];
    for (let i = 0; i < 3; i++) patients.push((await registrar.patient.register(newPatient({ familyName: `Summary${randomUUID().slice(0, 6)}` }))).patientId);
    const since = new Date(Date.now() - 1000);
    const snooper = await callerAs(db(), snoop);
    await snooper.patient.list({ search: "Summary" });
    for (const patientId of patients) {
      await snooper.patient.breakGlass({ patientId, reason: "Looking things up for a friend" });
      await snooper.patient.byId({ patientId });
      await snooper.patient.byId({ patientId });
    }
    await registrar.patient.byId({ patientId: patients[0]! });

    const audit = (await callerAs(db(), officer)).audit;
    const one = await audit.userActivity({ userId: snoop.id, from: since });
    expect(one.users).toEqual([
      expect.objectContaining({ userId: snoop.id, userName: snoop.name, chartsOpened: 3, patients: expect.any(Number), views: 6, emergencyAccesses: 3 }),
    ]);
    expect(one.users[0]!.listed).toBeGreaterThanOrEqual(3);
    const steadyRow = (await audit.userActivity({ userId: steady.id, from: since })).users[0];
    expect(steadyRow).toMatchObject({ chartsOpened: 1, emergencyAccesses: 0 });

    const page = await audit.userActivity({ from: since, limit: 1 });
    const next = await audit.userActivity({ from: since, limit: 1, cursor: page.nextCursor! });
    expect(page.users[0]!.chartsOpened).toBeGreaterThanOrEqual(next.users[0]!.chartsOpened);
    expect(page.users[0]!.userId).not.toBe(next.users[0]!.userId);
  });
});

// The start page's count is of the whole table: on a database of its own, so that another test
// file's grants on the shared one cannot move it between two reads.
describeEachOwnDatabase("the review queue's count", (db) => {
  it("counts the accesses awaiting review for the start page, oldest first, without recording a read of any chart", async () => {
    const registrar = await staff(db(), ["clinician"], "Rita Registrar");
    const stranger = await staff(db(), ["clinician"], "Sam Stranger");
    const officer = await staff(db(), ["compliance"], "Olga Officer");
    const { patientId } = await (await callerAs(db(), registrar)).patient.register(newPatient());
    const audit = await callerAs(db(), officer);
    const before = await audit.audit.emergencyReviewQueue();
    const first = await (await callerAs(db(), stranger)).patient.breakGlass({ patientId, reason: "Covering the ward tonight" });
    const other = await staff(db(), ["clinician"], "Nia Nightshift");
    await (await callerAs(db(), other)).patient.breakGlass({ patientId, reason: "Rapid response call on the ward" });
    const waiting = await audit.audit.emergencyReviewQueue();
    expect(waiting.needsReview).toBe(before.needsReview + 2);
    const firstGranted = (await db().prisma.emergencyAccess.findUniqueOrThrow({ where: { id: first.accessId } })).grantedAt;
    expect(waiting.oldestGrantedAt).toEqual(before.oldestGrantedAt && before.oldestGrantedAt < firstGranted ? before.oldestGrantedAt : firstGranted);

    await audit.audit.reviewEmergencyAccess({ accessId: first.accessId, note: "Confirmed with the night rota" });
    expect((await audit.audit.emergencyReviewQueue()).needsReview).toBe(before.needsReview + 1);
    // A count names no patient: the officer's reads of this chart are the review's, not the start page's.
    const reads = await db().prisma.accessLog.count({ where: { userId: officer.id, procedure: "audit.emergencyReviewQueue" } });
    expect(reads).toBe(0);
    expect(await codeOf((await callerAs(db(), stranger)).audit.emergencyReviewQueue())).toBe("FORBIDDEN");
  });
});
