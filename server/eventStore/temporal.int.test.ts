// Bitemporal loads against plain folds: as it happened = a fold ordered by occurred_at up to t,
// as recorded = a fold by recorded_at (version order) up to r, both together = both filters; the
// diff of two moments names exactly the fields that differ. Random histories with late entries.
import { randomUUID } from "node:crypto";
import fc from "fast-check";
import { expect, it } from "vitest";
import { patientDecider, type PatientState } from "../domain/patient/decider";
import { eventRegistry } from "../domain/registry";
import { patientStream } from "../domain/streams";
import { describeEachDatabase } from "../testing/db";
import { storeOn } from "./db";
import { appendToStream } from "./append";
import { readStream } from "./read";
import { diffFields, inMoment, loadAtMoment, type Moment } from "./temporal";
import type { NewEvent, StoredEvent } from "./types";

const base = Date.parse("2026-01-01T00:00:00Z");
const day = 86_400_000;

const fieldValues = {
  givenName: ["Grace", "Ada", "Mary"],
  familyName: ["Hopper", "Lovelace"],
  phone: ["+1 555 0100", null],
  email: ["a@example.test", null],
} as const;
type Field = keyof typeof fieldValues;

/** One event of a random history: which field changes to which value, and on which day it happened. */
const editArb = fc.record({
  field: fc.constantFrom(...(Object.keys(fieldValues) as Field[])),
  pick: fc.nat(10),
  occurredDay: fc.integer({ min: -30, max: 30 }),
});

function fold(events: readonly StoredEvent[]): PatientState {
  return events.reduce((s, e) => patientDecider.evolve(s, e as never), patientDecider.initialState());
}

const byOccurrence = (a: StoredEvent, b: StoredEvent) => a.metadata.occurredAt.getTime() - b.metadata.occurredAt.getTime() || a.version - b.version;

describeEachDatabase("bitemporal loads", (db) => {
  const store = () => storeOn(db(), eventRegistry);

  async function writeHistory(registeredDay: number, edits: { field: Field; pick: number; occurredDay: number }[]) {
    const patientId = randomUUID();
    const streamId = patientStream(patientId);
    const meta = (occurredDay: number): Omit<NewEvent, "type" | "data"> => ({
      eventId: randomUUID(),
      occurredAt: new Date(base + occurredDay * day),
      userId: "user-temporal",
      correlationId: randomUUID(),
      causationId: null,
    });
    await appendToStream(
      store(),
      streamId,
      [
        {
          type: "PatientRegistered",
          data: { patientId, mrn: `T${patientId.slice(0, 8).toUpperCase()}`, givenName: "Grace", familyName: "Hopper", dateOfBirth: "1950-01-01", sex: "female", email: null, phone: null, address: null },
          ...meta(registeredDay),
        },
      ],
      { expectedVersion: "no_stream", aggregateType: "patient" },
    );
    // One append per event: each is recorded (recorded_at) after the one before, whatever day it happened.
    let state = (await loadAtMoment(store(), streamId, patientDecider, {})).state as Record<string, unknown>;
    for (const edit of edits) {
      const values = fieldValues[edit.field];
      const value = values[edit.pick % values.length];
      if (state[edit.field] === value) continue;
      await appendToStream(
        store(),
        streamId,
        [
          {
            type: "PatientDemographicsUpdated",
            data: { patientId, changes: { [edit.field]: value }, previous: { [edit.field]: state[edit.field] ?? null }, reason: "late entry" },
            ...meta(edit.occurredDay),
          },
        ],
        { expectedVersion: "any", aggregateType: "patient" },
      );
      state = { ...state, [edit.field]: value };
    }
    return { streamId, all: await readStream(store(), streamId) };
  }

  /** A moment picked among the history's own instants (and just before them), on one axis or both. */
  const momentOf = (all: StoredEvent[], pick: { r: number | null; t: number | null; shift: number }): Moment => ({
    ...(pick.r !== null ? { recordedAt: new Date(all[pick.r % all.length]!.metadata.recordedAt.getTime() - (pick.shift % 2)) } : {}),
    ...(pick.t !== null ? { happenedBy: new Date(all[pick.t % all.length]!.metadata.occurredAt.getTime() - (pick.shift % 2)) } : {}),
  });
  const momentArb = fc.record({ r: fc.option(fc.nat(40)), t: fc.option(fc.nat(40)), shift: fc.nat(3) });

  it("property: as happened = fold by occurred_at, as recorded = fold by recorded_at, and the diff names exactly the changed fields", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: -40, max: 0 }),
        fc.array(editArb, { minLength: 1, maxLength: 12 }),
        momentArb,
        momentArb,
        async (registeredDay, edits, pickA, pickB) => {
          const { streamId, all } = await writeHistory(registeredDay, edits);
          const reference = (m: Moment) => fold(all.filter((e) => inMoment(e, m)).sort(m.happenedBy ? byOccurrence : (a, b) => a.version - b.version));
          const a = momentOf(all, pickA);
          const b = momentOf(all, pickB);
          for (const m of [a, b]) {
            const loaded = await loadAtMoment(store(), streamId, patientDecider, m);
            expect(loaded.state).toEqual(reference(m));
          }
          // Recorded-at alone is a version prefix, also by plain JS timestamps.
          if (a.recordedAt && !a.happenedBy) {
            const prefix = all.filter((e) => e.metadata.recordedAt.getTime() <= a.recordedAt!.getTime());
            expect((await loadAtMoment(store(), streamId, patientDecider, a)).lastVersion).toBe(prefix.at(-1)?.version ?? 0);
          }
          // The diff: exactly the top-level fields whose values differ, each with events that changed it.
          const [sa, sb] = [reference(a), reference(b)] as Record<string, unknown>[];
          const expected = [...new Set([...Object.keys(sa!), ...Object.keys(sb!)])]
            .filter((f) => JSON.stringify(sa![f] ?? null) !== JSON.stringify(sb![f] ?? null))
            .sort();
          expect(diffFields(sa, sb).map((f) => f.field)).toEqual(expected);
        },
      ),
      { numRuns: 25 },
    );
  });

  it("a late entry: visible as it happened at its clinical time only once recorded", async () => {
    // Registered day -10, phone changed on day -5 but entered after everything else.
    const { streamId, all } = await writeHistory(-10, [{ field: "email", pick: 0, occurredDay: 1 }, { field: "phone", pick: 0, occurredDay: -5 }]);
    const late = all.at(-1)!;
    const beforeEntry = new Date(late.metadata.recordedAt.getTime() - 1);
    const day3 = new Date(base - 3 * day);
    const knownThen = await loadAtMoment(store(), streamId, patientDecider, { recordedAt: beforeEntry, happenedBy: day3 });
    const knownNow = await loadAtMoment(store(), streamId, patientDecider, { happenedBy: day3 });
    expect((knownThen.state as { phone: string | null }).phone).toBeNull();
    expect((knownNow.state as { phone: string | null }).phone).toBe("+1 555 0100");
    // As recorded at day 3 (wall clock), nothing of this history had been entered yet.
    expect((await loadAtMoment(store(), streamId, patientDecider, { recordedAt: new Date(base) })).eventsApplied).toBe(0);
  });
});
