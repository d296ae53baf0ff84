import { describe, expect, it } from "vitest";
import { eventRegistry } from "../registry";
import { given } from "../testing";
import {
  durationMinutes,
  encounterCheck,
  encounterDecider,
  type CompleteEncounter,
  type StartEncounter,
} from "./decider";
import type { EncounterEvent } from "./events";

const encounterId = "6f1c2d3e-4b5a-4c6d-8e7f-901a2b3c4d5e";
const patientId = "0b8f5a8e-3c1d-4e7a-9f2b-6d4c3b2a1e0f";
const providerId = "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d";
const now = new Date("2026-03-15T10:00:00.000Z");
const startedAt = "2026-03-15T09:00:00.000Z";

const start = (data: Partial<StartEncounter["data"]> = {}, at = now): StartEncounter => ({
  type: "StartEncounter",
  data: {
    encounterId,
    patientId,
    providerId,
    encounterType: "outpatient",
    startedAt: new Date(startedAt),
    reason: "Follow-up",
    patient: { exists: true, active: true },
    ...data,
  },
  metadata: { now: at },
});

const complete = (data: Partial<CompleteEncounter["data"]> = {}, at = now): CompleteEncounter => ({
  type: "CompleteEncounter",
  data: { encounterId, outcome: "Improving", dischargeDisposition: "home", ...data },
  metadata: { now: at },
});

const started: EncounterEvent = {
  type: "EncounterStarted",
  data: { encounterId, patientId, providerId, encounterType: "outpatient", startedAt, reason: "Follow-up", location: null },
};

const completed: EncounterEvent = {
  type: "EncounterCompleted",
  data: { encounterId, endedAt: now.toISOString(), outcome: "Improving", dischargeDisposition: "home", durationMinutes: 60 },
};

describe("StartEncounter", () => {
  it("starts an encounter", () => {
    const state = given(encounterDecider, []).when(start()).then([started]);
    expect(state).toMatchObject({ status: "in_progress", startedAt });
    expect(encounterCheck(state)).toEqual({ exists: true, patientId, status: "in_progress" });
  });

  it("starts now when no start time is given, and stores a blank reason as null", () => {
    given(encounterDecider, [])
      .when(start({ startedAt: undefined, reason: "  " }))
      .then([{ ...started, data: { ...started.data, startedAt: now.toISOString(), reason: null } } as EncounterEvent]);
  });

  it("refuses a patient that does not exist", () => {
    given(encounterDecider, [])
      .when(start({ patient: { exists: false } }))
      .thenThrowsNotFound("Patient", patientId);
  });

  it("refuses an inactive patient", () => {
    given(encounterDecider, [])
      .when(start({ patient: { exists: true, active: false } }))
      .thenThrows("patient.inactive");
  });

  it("starts once", () => {
    given(encounterDecider, [started]).when(start()).thenThrows("encounter.already_started");
    given(encounterDecider, [started, completed]).when(start()).thenThrows("encounter.already_started");
  });

  it("refuses a start time in the future, beyond clock skew", () => {
    given(encounterDecider, [])
      .when(start({ startedAt: new Date("2026-03-15T11:00:00.000Z") }))
      .thenThrows("encounter.starts_in_future");
    given(encounterDecider, [])
      .when(start({ startedAt: new Date("2026-03-15T10:02:00.000Z") }))
      .then([{ ...started, data: { ...started.data, startedAt: "2026-03-15T10:02:00.000Z" } } as EncounterEvent]);
  });

  it("refuses a start time before the patient's date of birth, anywhere on Earth, and still loads one stored before the rule", () => {
    const born = (dateOfBirth: string) => ({ patient: { exists: true as const, active: true, dateOfBirth } });
    given(encounterDecider, [])
      .when(start({ ...born("1980-01-02"), startedAt: new Date("1950-01-01T00:00:00.000Z") }))
      .thenThrows("encounter.starts_before_birth");
    expect(() => encounterDecider.decide(start({ ...born("1980-01-02"), startedAt: new Date("1950-01-01T00:00:00.000Z") }), encounterDecider.initialState())).toThrow(
      "Start time 1950-01-01T00:00:00.000Z is before the patient's date of birth 1980-01-02",
    );
    // Just before midnight at UTC+14 of the day of birth: before it everywhere.
    given(encounterDecider, []).when(start({ ...born("2026-03-15"), startedAt: new Date("2026-03-14T09:59:59.999Z") })).thenThrows("encounter.starts_before_birth");
    // A newborn seen in Kiribati's first hour of their birthday (the previous evening in UTC): accepted.
    given(encounterDecider, [])
      .when(start({ ...born("2026-03-15"), startedAt: new Date("2026-03-14T10:00:00.000Z") }))
      .then([{ ...started, data: { ...started.data, startedAt: "2026-03-14T10:00:00.000Z" } } as EncounterEvent]);
    // Starting now (no start time given) on the day of birth.
    given(encounterDecider, [])
      .when(start({ ...born("2026-03-15"), startedAt: undefined }))
      .then([{ ...started, data: { ...started.data, startedAt: now.toISOString() } } as EncounterEvent]);
    // Events already stored are facts: one that started before a date of birth folds, and completes.
    const early: EncounterEvent = { ...started, data: { ...started.data, startedAt: "1950-01-01T00:00:00.000Z" } } as EncounterEvent;
    expect(given(encounterDecider, [early]).when(complete()).then([{ ...completed, data: { ...completed.data, durationMinutes: durationMinutes("1950-01-01T00:00:00.000Z", now.toISOString()) } } as EncounterEvent])).toMatchObject({
      status: "completed",
      startedAt: "1950-01-01T00:00:00.000Z",
    });
  });

  it("refuses an unknown encounter type", () => {
    given(encounterDecider, [])
      .when(start({ encounterType: "spa" as never }))
      .thenThrowsValidation("encounterType");
  });
});

describe("CompleteEncounter", () => {
  it("completes an encounter, computing its duration", () => {
    const state = given(encounterDecider, [started]).when(complete()).then([completed]);
    expect(state).toMatchObject({ status: "completed", startedAt, endedAt: now.toISOString(), durationMinutes: 60 });
    expect(encounterCheck(state)).toEqual({ exists: true, patientId, status: "completed" });
  });

  it("counts whole minutes elapsed", () => {
    given(encounterDecider, [started])
      .when(complete({ endedAt: new Date("2026-03-15T09:45:59.999Z") }))
      .then([
        {
          type: "EncounterCompleted",
          data: {
            encounterId,
            endedAt: "2026-03-15T09:45:59.999Z",
            outcome: "Improving",
            dischargeDisposition: "home",
            durationMinutes: 45,
          },
        },
      ]);
    expect(durationMinutes(startedAt, startedAt)).toBe(0);
    expect(durationMinutes("2026-03-14T23:30:00.000Z", "2026-03-16T00:30:00.000Z")).toBe(25 * 60);
  });

  it("may end the moment it started", () => {
    given(encounterDecider, [started])
      .when(complete({ endedAt: new Date(startedAt) }))
      .then([
        {
          type: "EncounterCompleted",
          data: { encounterId, endedAt: startedAt, outcome: "Improving", dischargeDisposition: "home", durationMinutes: 0 },
        },
      ]);
  });

  it("refuses to end before it started", () => {
    given(encounterDecider, [started])
      .when(complete({ endedAt: new Date("2026-03-15T08:59:59.000Z") }))
      .thenThrows("encounter.ends_before_start");
  });

  it("refuses an end time in the future", () => {
    given(encounterDecider, [started])
      .when(complete({ endedAt: new Date("2026-03-15T12:00:00.000Z") }))
      .thenThrows("encounter.ends_in_future");
  });

  it("completes once", () => {
    given(encounterDecider, [started, completed]).when(complete()).thenThrows("encounter.already_completed");
  });

  it("refuses an encounter that never started as not found", () => {
    given(encounterDecider, []).when(complete()).thenThrowsNotFound("Encounter", encounterId);
    expect(encounterCheck(encounterDecider.initialState())).toEqual({ exists: false });
  });

  it("requires an outcome and a known disposition", () => {
    given(encounterDecider, [started]).when(complete({ outcome: " " })).thenThrowsValidation("outcome");
    given(encounterDecider, [started])
      .when(complete({ dischargeDisposition: "spa" as never }))
      .thenThrowsValidation("dischargeDisposition");
  });
});

describe("encounter events", () => {
  it("round-trip through the registry", () => {
    for (const event of [started, completed, { ...started, data: { ...started.data, reason: null } }]) {
      const { eventVersion, data } = eventRegistry.encode(event);
      expect(eventVersion).toBe(event.type === "EncounterStarted" ? 2 : 1);
      expect(eventRegistry.decode(event.type, eventVersion, JSON.parse(JSON.stringify(data)))).toEqual(event.data);
    }
  });
});

describe("EncounterStarted v2: the location", () => {
  it("keeps a location given at the start, and reads a v1 event as having none", () => {
    given(encounterDecider, [])
      .when(start({ location: " Ward 4B, bed 12 " }))
      .then([{ ...started, data: { ...started.data, location: "Ward 4B, bed 12" } } as EncounterEvent]);
    const { location: _location, ...v1 } = started.data as Record<string, unknown>;
    expect(eventRegistry.decode("EncounterStarted", 1, v1)).toEqual({ ...started.data, location: null });
  });
});
