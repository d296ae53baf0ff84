// Allergies, alerts and the medication check through the procedures; name search as people type it.
import { randomUUID } from "node:crypto";
import { TRPCError } from "@trpc/server";
import { expect, it } from "vitest";
import { readStream, storeOn } from "../../eventStore";
import { eventRegistry } from "../../domain/registry";
import { orderStream } from "../../domain/streams";
import { callerAs, codeOf, newPatient, testUser } from "../../testing/caller";
import { describeEachDatabase } from "../../testing/db";
import type { SessionUser } from "../context";

const clinician: SessionUser = { id: "clinician-safety", email: "cs@example.test", name: "Sam Safety", roles: ["clinician"] };

async function refusal(promise: Promise<unknown>): Promise<TRPCError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof TRPCError) return error;
    throw error;
  }
  throw new Error("expected a refusal");
}

describeEachDatabase("allergies, alerts and the medication check", (db) => {
  it("adds alerts sent at the same moment to one chart, each decided on the state the one before left (no version named, so no conflict while fewer race than the retries)", async () => {
    const api = await callerAs(db(), clinician);
    const { patientId } = await api.patient.register(newPatient());
    const kinds = ["fall_risk", "contact_isolation", "droplet_isolation", "airborne_isolation", "violence_risk"] as const;
    const notes = kinds.map((kind) => `Concurrent ${kind}`);
    const results = await Promise.allSettled(kinds.map((kind) => api.patient.recordAlert({ patientId, kind, note: `Concurrent ${kind}` })));
    expect(results.filter((r) => r.status === "rejected").map((r) => String((r as PromiseRejectedResult).reason))).toEqual([]);
    const chart = await api.patient.byId({ patientId });
    expect(chart.patient.safety.alerts.map((a) => a.note).sort()).toEqual([...notes].sort());
  });

  it("records an allergy and an alert: the chart shows them; refuted allergies are not active", async () => {
    const api = await callerAs(db(), clinician);
    const { patientId } = await api.patient.register(newPatient());
    expect((await api.patient.byId({ patientId })).patient.safety).toEqual({ allergyStatus: "unknown", allergies: [], alerts: [] });

    const { allergyId } = await api.patient.recordAllergy({
      patientId,
      substance: { code: "penicillin", text: "Penicillin" },
      reaction: "Hives",
      severity: "severe",
      source: "patient",
      note: null,
    });
    await api.patient.recordAlert({ patientId, kind: "fall_risk", note: "Unsteady on standing" });
    const chart = await api.patient.byId({ patientId });
    expect(chart.patient.safety).toMatchObject({
      allergyStatus: "recorded",
      allergies: [{ allergyId, substance: { text: "Penicillin" }, status: "active", severity: "severe" }],
      alerts: [{ kind: "fall_risk", active: true }],
    });

    expect(await codeOf(api.patient.recordNoKnownAllergies({ patientId }))).toBe("PRECONDITION_FAILED");
    await api.patient.closeAllergy({ patientId, allergyId, outcome: "refuted", reason: "Tolerated amoxicillin in 2024" });
    const after = await api.patient.byId({ patientId });
    expect(after.patient.safety).toMatchObject({ allergyStatus: "none_known", allergies: [{ status: "refuted", statusReason: "Tolerated amoxicillin in 2024" }] });

    const history = await api.patient.history({ patientId });
    expect(history.items.map((i) => i.type)).toEqual(expect.arrayContaining(["AllergyRecorded", "AlertRecorded", "AllergyRefuted"]));
  });

  it("a refusal that quotes the chart is recorded in the access log, in the request that was refused", async () => {
    const user = testUser(["clinician"]);
    const api = await callerAs(db(), user);
    const { patientId } = await api.patient.register(newPatient());
    await api.patient.recordAllergy({ patientId, substance: { code: "penicillin", text: "Penicillin" }, reaction: null, severity: "severe", source: "patient", note: null });
    const { encounterId } = await api.encounter.start({ patientId, encounterType: "outpatient" });
    const refusals = () =>
      db().prisma.accessLog.findMany({ where: { patientId, userId: user.id, screen: "refusal" }, orderBy: { id: "asc" }, select: { procedure: true, correlationId: true } });
    expect(await refusals()).toEqual([]);

    // Each answer names what the chart holds, though nothing was written and no chart was opened.
    const asked = [
      { procedure: "order.create", call: (c: typeof api) => c.order.create({ patientId, kind: "medication", details: { description: "Amoxicillin 500 mg", dose: "500 mg", route: "oral", frequency: "three times daily" } }), quotes: "Penicillin" },
      { procedure: "patient.recordAllergy", call: (c: typeof api) => c.patient.recordAllergy({ patientId, substance: { code: "penicillin", text: "Penicillin" }, reaction: null, severity: "mild", source: "patient", note: null }), quotes: "Penicillin" },
      { procedure: "encounter.complete", call: (c: typeof api) => c.encounter.complete({ encounterId, outcome: "Seen", dischargeDisposition: "home", endedAt: new Date(Date.now() - 86_400_000), expectedVersion: 1 }), quotes: "start time" },
    ];
    const correlationIds: string[] = [];
    for (const { call, quotes } of asked) {
      const correlationId = `refused-${randomUUID()}`;
      correlationIds.push(correlationId);
      const refused = await refusal(call(await callerAs(db(), user, correlationId)));
      expect(refused.code).toBe("PRECONDITION_FAILED");
      expect(refused.message).toContain(quotes);
    }
    expect(await refusals()).toEqual(asked.map(({ procedure }, i) => ({ procedure, correlationId: correlationIds[i] })));

    // Compliance reads it in words.
    const compliance = await callerAs(db(), testUser(["compliance"]));
    const log = await compliance.audit.accessLog({ patientId });
    expect(log.rows.filter((r) => r.userId === user.id && r.screen === "read the chart in a refused change")).toHaveLength(3);
  });

  it("an order's refused status change quotes the order: recorded against its patient, though the department needs no glass", async () => {
    const ward = await callerAs(db(), testUser(["clinician"]));
    const { patientId } = await ward.patient.register(newPatient());
    const { orderId } = await ward.order.create({ patientId, kind: "lab", details: { code: "2345-7", description: "Glucose, serum" } });
    await ward.order.changeStatus({ orderId, expectedVersion: 1, newStatus: "cancelled", reason: "Drawn twice" });

    // The lab: not in the patient's care, no grant, moving orders off the department's worklist.
    const tech = testUser(["clinician"]);
    const correlationId = `refused-${randomUUID()}`;
    const refused = await refusal((await callerAs(db(), tech, correlationId)).order.changeStatus({ orderId, expectedVersion: 2, newStatus: "in_progress" }));
    expect(refused.code).toBe("PRECONDITION_FAILED");
    expect(refused.message).toContain("cancelled");
    expect(await db().prisma.accessLog.findMany({ where: { userId: tech.id }, select: { patientId: true, procedure: true, screen: true, correlationId: true } })).toEqual([
      { patientId, procedure: "order.changeStatus", screen: "refusal", correlationId },
    ]);

    // A status change that goes through writes its event and no access row; an unknown order, neither.
    const { orderId: second } = await ward.order.create({ patientId, kind: "lab", details: { code: "2345-7", description: "Glucose, serum" } });
    await (await callerAs(db(), tech)).order.changeStatus({ orderId: second, expectedVersion: 1, newStatus: "in_progress" });
    expect(await codeOf((await callerAs(db(), tech)).order.changeStatus({ orderId: randomUUID(), expectedVersion: 1, newStatus: "in_progress" }))).not.toBe("OK");
    expect(await db().prisma.accessLog.count({ where: { userId: tech.id } })).toBe(1);
  });

  it("refuses a medication matching an allergy without a reason; with one, the override is its own event", async () => {
    const api = await callerAs(db(), clinician);
    const { patientId } = await api.patient.register(newPatient());
    await api.patient.recordAllergy({ patientId, substance: { code: "penicillin", text: "Penicillin" }, reaction: null, severity: "severe", source: "patient", note: null });
    const order = { patientId, kind: "medication" as const, details: { description: "Amoxicillin 500 mg", dose: "500 mg", route: "oral", frequency: "three times daily" } };

    const refused = await refusal(api.order.create(order));
    expect(refused.code).toBe("PRECONDITION_FAILED");
    expect(refused.message).toContain("Penicillin");

    const reason = "No alternative available; first dose under observation";
    const { orderId } = await api.order.create({ ...order, allergyOverrideReason: reason });
    const events = await readStream(storeOn(db(), eventRegistry), orderStream(orderId));
    expect(events.map((e) => e.type)).toEqual(["OrderCreated", "MedicationAllergyOverridden"]);
    expect(events[1]!.data).toMatchObject({ reason, conflicts: [{ substance: "Penicillin", matchedBy: "class", drugClass: "penicillins" }] });
    expect(events[1]!.metadata.userId).toBe(clinician.id);

    // Compliance finds it in the patient's audit timeline.
    const compliance = await callerAs(db(), testUser(["compliance"]));
    const timeline = await compliance.audit.patientTimeline({ patientId });
    expect(timeline.items.map((i: { type: string }) => i.type)).toContain("MedicationAllergyOverridden");
    // Time travel: the allergy is part of the record as it stood.
    const asOf = await compliance.audit.patientAsOf({ patientId, asOf: new Date(Date.now() + 1000) });
    expect(asOf.patient?.state).toMatchObject({ safety: { allergyStatus: "recorded", allergies: [{ substance: { text: "Penicillin" } }] } });
  });
});

describeEachDatabase("patient search as people type it", (db) => {
  it("finds a name from any part, in any order, without accents or case, and with a typo", async () => {
    const api = await callerAs(db(), clinician);
    const tag = `Probe${Math.floor(Math.random() * 9000 + 1000)}${randomUUID().slice(0, 4).replace(/[^a-z]/g, "q")}`;
    const { patientId } = await api.patient.register({ ...newPatient(), givenName: "Rosa", familyName: `Delgado ${tag}` });
    const accented = await api.patient.register({ ...newPatient(), givenName: "José Ángel", familyName: `Núñez ${tag}` });
    const found = async (search: string) => (await api.patient.list({ search, limit: 100 })).items.map((p) => p.patientId);

    for (const search of [`Rosa Delgado ${tag}`, `Delgado ${tag}, Rosa`, `delg ros ${tag.toLowerCase()}`, `${tag} rosa`, `${tag.toUpperCase()} ROSA`]) {
      expect(await found(search), search).toContain(patientId);
    }
    expect(await found(`Delgadp ${tag} Rosa`), "a typo").toContain(patientId);
    expect(await found(`nunez jose ${tag}`), "without accents").toContain(accented.patientId);
    expect(await found(`NÚÑEZ ${tag}`), "with accents").toContain(accented.patientId);
    expect(await found(`Delgado ${tag} Maria`), "a word that is not there").not.toContain(patientId);
  });

  it("pages through fragments and through near matches in list order, each patient once", async () => {
    const api = await callerAs(db(), clinician);
    const tag = `Pager${randomUUID().replace(/[^a-f]/g, "").slice(0, 6)}`;
    const ids: string[] = [];
    for (const givenName of ["Carmen", "Alba", "Beatriz"]) {
      ids.push((await api.patient.register({ ...newPatient(), givenName, familyName: `Ortega ${tag}` })).patientId);
    }
    const inOrder = [ids[1], ids[2], ids[0]]; // Alba, Beatriz, Carmen
    const allPages = async (search: string) => {
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page: { items: { patientId: string }[]; nextCursor: string | null } = await api.patient.list({ search, limit: 1, cursor });
        seen.push(...page.items.map((p) => p.patientId));
        cursor = page.nextCursor;
      } while (cursor && seen.length < 10);
      return seen;
    };
    expect(await allPages(`ortega ${tag}`), "fragments").toEqual(inOrder);
    expect(await allPages(`${tag} Ortegq`), "a typo in the family name").toEqual(inOrder);
    expect(await allPages(`${tag} beatriz`), "one match: the trigram index's page").toEqual([ids[2]]);
    expect(await allPages(`Ortegq Beatris ${tag}`), "two typos").toEqual([ids[2]]);

    // Two letters alone: the start of a word, walked in list order.
    const fold = (s: string) => s.normalize("NFD").replace(/\p{M}/gu, "").toLowerCase();
    const short = (await api.patient.list({ search: "Or", limit: 100 })).items;
    expect(short.length).toBeGreaterThan(0);
    for (const p of short) expect(fold(`${p.familyName} ${p.givenName} ${p.mrn}`).split(/[^a-z0-9]+/).some((w) => w.startsWith("or")), p.familyName).toBe(true);
  });
});
