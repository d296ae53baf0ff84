// No PHI in logs: a patient with unique, recognisable values goes through a whole journey (register,
// update demographics, chart, search, history, the audit views, a refused and an invalid call, the
// outbox worker), with every log line captured at the logger's destination; none may carry a value.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import { callerAs, codeOf } from "../testing/caller";
import { describeEachDatabase } from "../testing/db";
import { storeOf } from "../testing/events";
import { drainOutbox } from "../workers/outbox";
import type { SessionUser } from "../api/context";
import { captureLogLines } from "../testing/logLines";

let lines: string[] = [];
let restore: () => void = () => {};
beforeAll(() => {
  ({ lines, restore } = captureLogLines());
});
afterAll(() => restore());

const clinician: SessionUser = { id: "phi-clinician", email: "phi-c@example.test", name: "Phi Clinician", roles: ["clinician"] };
const compliance: SessionUser = { id: "phi-compliance", email: "phi-o@example.test", name: "Phi Officer", roles: ["compliance"] };

describeEachDatabase("logs carry no PHI", (db) => {
  it("a whole journey leaves request and batch lines, and none of the patient's values", async () => {
    const tag = randomUUID().replace(/-/g, "").slice(0, 10);
    const phi = {
      mrn: `PHI${tag.toUpperCase().slice(0, 8)}`,
      givenName: `Givenphi${tag}`,
      familyName: `Familyphi${tag}`,
      email: `phi.${tag}@patient.example`,
      phone: `+1 555 ${tag.replace(/\D/g, "7").slice(0, 7)}`,
      newPhone: `+44 20 ${tag.replace(/\D/g, "3").slice(0, 8)}`,
      line1: `${tag} Secretphi Lane`,
      city: `Cityphi${tag}`,
      reason: `reasonphi ${tag} moved house`,
    };
    const api = await callerAs(db(), clinician);
    const { patientId } = await api.patient.register({
      mrn: phi.mrn,
      givenName: phi.givenName,
      familyName: phi.familyName,
      dateOfBirth: "1937-04-29",
      sex: "female",
      email: phi.email,
      phone: phi.phone,
      address: { line1: phi.line1, city: phi.city, postalCode: "00000", country: "US" },
    });
    await api.patient.updateDemographics({ patientId, expectedVersion: 1, changes: { phone: phi.newPhone }, reason: phi.reason });
    await api.patient.byId({ patientId });
    await api.patient.list({ search: phi.familyName });
    await api.patient.history({ patientId });
    // Refused and invalid calls carrying the values: logged as outcomes only.
    expect(await codeOf(api.patient.updateDemographics({ patientId, expectedVersion: 1, changes: { givenName: `${phi.givenName}x` }, reason: phi.reason }))).toBe("CONFLICT");
    expect(await codeOf(api.patient.register({ mrn: phi.mrn, givenName: phi.givenName, familyName: phi.familyName, dateOfBirth: "1937-04-29", sex: "female" }))).not.toBe("OK");
    expect(await codeOf(api.patient.register({ mrn: phi.mrn, givenName: phi.givenName, familyName: phi.familyName, dateOfBirth: `not a date ${phi.city}`, sex: "female" }))).toBe("BAD_REQUEST");

    const officer = await callerAs(db(), compliance);
    await officer.audit.patients({ search: phi.familyName });
    await officer.audit.patientTimeline({ patientId });
    await officer.audit.patientAsOf({ patientId, asOf: new Date() });
    await officer.audit.events({ streamId: `patient-${patientId}` });
    await officer.audit.accessLog({ patientId });

    // The worker's batches.
    for (let i = 0; i < 50; i++) {
      const r = await drainOutbox({ store: storeOf(db()), handlers: new Map() }, { batchSize: 500, maxAttempts: 5 });
      if (r.claimed === 0) break;
    }

    const output = lines.join("\n");
    const requests = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.component === "trpc");
    expect(requests.map((l) => l.procedure)).toEqual(expect.arrayContaining(["patient.register", "patient.updateDemographics", "patient.byId", "audit.patientTimeline"]));
    expect(requests.find((l) => l.procedure === "patient.register")).toMatchObject({ userId: clinician.id, outcome: "ok", correlationId: expect.any(String), durationMs: expect.any(Number) });
    expect(requests.some((l) => l.procedure === "patient.updateDemographics" && l.outcome === "CONFLICT")).toBe(true);
    expect(lines.some((l) => l.includes('"component":"outbox"'))).toBe(true);
    const leaked = Object.entries(phi).filter(([, v]) => output.toLowerCase().includes(v.toLowerCase()));
    expect(leaked.map(([k]) => k)).toEqual([]);
    expect(output).not.toContain("1937-04-29");
    expect(output).not.toContain(tag);
  });
});
