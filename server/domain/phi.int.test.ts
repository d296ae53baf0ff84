// PHI protection over every registered event type: each declares its PHI (an empty list is an
// explicit "none"), a raw `SELECT data FROM events` shows none of it in clear, and reading back
// gives the payload as it was given. A new event type without a declaration fails here, loudly.
import { randomUUID } from "node:crypto";
import { expect, it } from "vitest";
import { appendToStream, loadAggregate, storeOn, readStream, handleCommand, type NewEvent, type EventDefinition } from "../eventStore";
import { ENVELOPE_KEY } from "../eventStore/phi";
import { describeEachDatabase } from "../testing/db";
import { eventDefinitions, eventRegistry } from "./registry";
import { eventExamples } from "./schemaRegistry";
import { patientDecider, type PatientCommand } from "./patient/decider";
import type { PatientEvent } from "./patient/events";

/** Every string and number inside a value, as text (what a dump could show). */
function leaves(value: unknown): string[] {
  if (typeof value === "string") return [value];
  if (typeof value === "number") return [String(value)];
  if (Array.isArray(value)) return value.flatMap(leaves);
  if (value && typeof value === "object") return Object.values(value).flatMap(leaves);
  return [];
}

function concreteValues(data: Record<string, unknown>, fields: readonly string[]): unknown[] {
  const at = (path: string) => path.split(".").reduce<unknown>((v, k) => (v && typeof v === "object" ? (v as Record<string, unknown>)[k] : undefined), data);
  return fields.flatMap((f) => (f.endsWith(".*") ? Object.values((at(f.slice(0, -2)) as Record<string, unknown>) ?? {}) : [at(f)]));
}

let counter = 0;
/** Replaces each PHI leaf of the example by a generated one wherever the schema still accepts it. */
function generated(def: EventDefinition, example: Record<string, unknown>, ids: Record<string, string>): Record<string, unknown> {
  let data: Record<string, unknown> = JSON.parse(JSON.stringify({ ...example, ...Object.fromEntries(Object.keys(ids).filter((k) => k in example).map((k) => [k, ids[k]])) }));
  const phiKeys = new Set((def.phi?.fields ?? []).map((f) => f.split(".")[0]!));
  const walk = (v: unknown): unknown => {
    if (typeof v === "string") return `${v.slice(0, 2)}Gz${(++counter).toString(36)}${randomUUID().slice(0, 6)}`;
    if (typeof v === "number") return Math.round(v) + 1000 + (++counter % 97) / 100;
    if (Array.isArray(v)) return v.map(walk);
    if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
    return v;
  };
  for (const key of phiKeys) {
    const candidate = { ...data, [key]: walk(data[key]) };
    if (def.schema.safeParse(candidate).success) data = candidate;
  }
  return data;
}

const envelope = (over: Partial<NewEvent> = {}) => ({
  eventId: randomUUID(),
  occurredAt: new Date(),
  userId: "phi-test",
  correlationId: randomUUID(),
  causationId: null,
  ...over,
});

it("every registered event type declares its PHI (an empty list is a valid explicit declaration)", () => {
  const undeclared = eventDefinitions.filter((d: EventDefinition) => d.phi === undefined).map((d) => d.type);
  expect(
    undeclared,
    `these event types do not say which of their fields are PHI: ${undeclared.join(", ")}. ` +
      "Add `phi: { fields: [...] }` (or `phi: noPhi`) to each one's defineEvent options, and an example in eventExamples",
  ).toEqual([]);
  const withoutExample = eventDefinitions.filter((d) => !eventExamples[d.type]).map((d) => d.type);
  expect(withoutExample, `no example payload (server/domain/schemaRegistry.ts eventExamples) for: ${withoutExample.join(", ")}`).toEqual([]);
});

describeEachDatabase("PHI at rest", (db) => {
  it("a raw SELECT data FROM events shows no declared PHI in clear, for every registered type with generated data; reads give it back", async () => {
    const store = storeOn(db(), eventRegistry);
    for (const def of eventDefinitions as readonly EventDefinition[]) {
      const phi = def.phi ?? { fields: [] };
      const ids = { patientId: randomUUID(), encounterId: randomUUID(), orderId: randomUUID(), rebuildId: randomUUID(), userId: `user-${randomUUID()}` };
      const data = generated(def, eventExamples[def.type]!, ids);
      const streamId = `phi-test-${def.type}-${randomUUID()}`;
      const events: NewEvent[] = [];
      // A type that names no subject is sealed under its stream's: give the stream one first.
      if (phi.fields.length > 0 && typeof data[phi.subjectField ?? "patientId"] !== "string") {
        events.push({ type: "PatientRegistered", data: generated(eventDefinitions.find((d) => d.type === "PatientRegistered")!, eventExamples.PatientRegistered!, ids), ...envelope() });
      }
      const event: NewEvent = { type: def.type, data, ...envelope() };
      events.push(event);
      await appendToStream(store, streamId, events, { expectedVersion: "no_stream", aggregateType: "phi-test" });

      const [raw] = await db().sql<{ t: string }>("SELECT data::text AS t FROM events WHERE event_id = $1::uuid", [event.eventId]);
      const secrets = leaves(concreteValues(eventRegistry.encode(event).data, phi.fields)).filter((s) => s.length >= 4);
      for (const secret of secrets) expect(raw!.t, `${def.type}: "${secret}" is stored in clear`).not.toContain(secret);
      if (phi.fields.length > 0) {
        expect(raw!.t, `${def.type}: no sealed envelope`).toContain(ENVELOPE_KEY);
        expect(secrets.length, `${def.type}: the generated payload holds no PHI to look for`).toBeGreaterThan(0);
      }
      const [read] = (await readStream(store, streamId)).slice(-1);
      expect(read!.data, `${def.type}: read back differs from what was appended`).toEqual(eventRegistry.encode(event).data);
    }
  });

  it("a patient's state loaded from sealed events and sealed snapshots equals the plain fold", async () => {
    const store = storeOn(db(), eventRegistry);
    const patientId = randomUUID();
    const streamId = `patient-${patientId}`;
    const commands: PatientCommand[] = [
      { type: "RegisterPatient", data: { patientId, mrn: `P${randomUUID().slice(0, 8).toUpperCase()}`, givenName: "Ines", familyName: "Quarry", dateOfBirth: "1970-03-04", sex: "female" }, metadata: { now: new Date() } },
      ...["+1 555 0101", "+1 555 0102", "+1 555 0103"].map(
        (phone): PatientCommand => ({ type: "UpdatePatientDemographics", data: { patientId, changes: { phone }, reason: "new number given" }, metadata: { now: new Date() } }),
      ),
    ];
    const produced: PatientEvent[] = [];
    for (const command of commands) {
      const result = await handleCommand(store, streamId, patientDecider, command, { userId: "phi-test", correlationId: randomUUID(), commandId: randomUUID() }, { snapshotEvery: 2 });
      produced.push(...result.events);
    }
    const plain = produced.reduce(patientDecider.evolve, patientDecider.initialState());
    const [snapshot] = await db().sql<{ t: string }>("SELECT data::text AS t FROM snapshots WHERE stream_id = $1 ORDER BY version DESC LIMIT 1", [streamId]);
    expect(snapshot, "a snapshot was written").toBeDefined();
    for (const secret of ["Ines", "Quarry", "1970-03-04", "555 0102"]) expect(snapshot!.t).not.toContain(secret);
    const withSnapshot = await loadAggregate(store, streamId, patientDecider);
    const without = await loadAggregate(store, streamId, patientDecider, { useSnapshots: false });
    expect(withSnapshot.fromSnapshot).not.toBeNull();
    expect(withSnapshot.state).toEqual(plain);
    expect(without.state).toEqual(plain);
  });
});
