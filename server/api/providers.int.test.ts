// Provider forgery: order.create and encounter.start name only real, current clinicians.
import { randomUUID } from "node:crypto";
import { beforeAll, expect, it } from "vitest";
import { describeEachDatabase } from "../testing/db";
import { callerFor, codeOf, newPatient } from "../testing/caller";
import type { Role } from "../auth/roles";

describeEachDatabase("providers", (db) => {
  let api: ReturnType<typeof callerFor>;
  let callerId: string;
  let patientId: string;
  const people: Record<string, string> = {};

  async function user(name: string, roles: Role[]) {
    const id = `user-${randomUUID()}`;
    await db().prisma.user.create({ data: { id, email: `${id}@test.invalid`, name, roles }, select: { id: true } });
    people[name] = id;
  }

  beforeAll(async () => {
    callerId = `user-${randomUUID()}`;
    api = callerFor(db(), ["clinician"], { id: callerId });
    ({ patientId } = await api.patient.register(newPatient()));
    await user("clinician", ["clinician"]);
    await user("admin", ["admin"]);
    await user("compliance", ["compliance"]);
    await user("no roles", []);
  });

  const start = (providerId?: string) => api.encounter.start({ patientId, encounterType: "outpatient", providerId });
  const order = (providerId?: string) => api.order.create({ patientId, kind: "lab", details: { description: "CBC" }, providerId });

  it("refuses an id that names nobody (NOT_FOUND) and a user who is not a clinician (BAD_REQUEST), writing nothing", async () => {
    const before = await db().prisma.event.count({ where: { aggregateType: { in: ["encounter", "order"] }, data: { path: ["patientId"], equals: patientId } } });
    for (const call of [start, order]) {
      expect(await codeOf(call("no-such-user"))).toBe("NOT_FOUND");
      for (const who of ["admin", "compliance", "no roles"]) expect(await codeOf(call(people[who]))).toBe("BAD_REQUEST");
    }
    await expect(order(people.admin)).rejects.toThrow(/must be a user who holds the clinician role/);
    await expect(start("no-such-user")).rejects.toThrow(/Provider no-such-user not found/);
    const after = await db().prisma.event.count({ where: { aggregateType: { in: ["encounter", "order"] }, data: { path: ["patientId"], equals: patientId } } });
    expect(after).toBe(before);
  });

  it("answers a patient that does not exist with NOT_FOUND for the patient, a colleague named or not (not as a chart reached by breaking the glass)", async () => {
    const nobody = randomUUID();
    const calls = [
      (providerId?: string) => api.encounter.start({ patientId: nobody, encounterType: "outpatient", providerId }),
      (providerId?: string) => api.order.create({ patientId: nobody, kind: "lab", details: { description: "CBC" }, providerId }),
    ];
    for (const call of calls) {
      for (const providerId of [undefined, callerId, people.clinician]) {
        const refused = await call(providerId).catch((e: unknown) => e);
        expect(refused).toMatchObject({ code: "NOT_FOUND", message: `Patient ${nobody} not found` });
      }
    }
    expect(await db().prisma.event.count({ where: { aggregateType: { in: ["encounter", "order"] }, data: { path: ["patientId"], equals: nobody } } })).toBe(0);
  });

  it("records a named clinician, or the caller when none is named", async () => {
    const named = await start(people.clinician);
    const mine = await start();
    expect((await api.encounter.byId({ encounterId: named.encounterId })).providerId).toBe(people.clinician);
    expect((await api.encounter.byId({ encounterId: mine.encounterId })).providerId).toBe(callerId);
    const ordered = await order(people.clinician);
    expect((await api.order.byId({ orderId: ordered.orderId })).providerId).toBe(people.clinician);
  });

  it("stops naming a clinician whose role was taken away", async () => {
    await db().prisma.user.update({ where: { id: people.clinician! }, data: { roles: [] }, select: { id: true } });
    expect(await codeOf(order(people.clinician))).toBe("BAD_REQUEST");
  });
});
