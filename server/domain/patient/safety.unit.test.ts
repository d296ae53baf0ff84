// Allergies and clinical alerts on the patient: given/when/then.
import { describe, expect, it } from "vitest";
import { given } from "../testing";
import { patientCheck, patientDecider, type PatientCommand, type PatientState } from "./decider";
import type { PatientEvent } from "./events";

const patientId = "0b8f5a8e-3c1d-4e7a-9f2b-6d4c3b2a1e0f";
const allergyId = "7a1d2c3b-4e5f-4a6b-9c7d-8e9f0a1b2c3d";
const otherAllergyId = "8b2e3d4c-5f6a-4b7c-8d9e-0f1a2b3c4d5e";
const alertId = "9c3f4e5d-6a7b-4c8d-9e0f-1a2b3c4d5e6f";
const now = new Date("2026-03-15T10:00:00.000Z");

const registered: PatientEvent = {
  type: "PatientRegistered",
  data: { patientId, mrn: "MRN00042", givenName: "Rosa", familyName: "Delgado", dateOfBirth: "1950-02-01", sex: "female", email: null, phone: null, address: null },
};

const command = (type: PatientCommand["type"], data: Record<string, unknown>) => ({ type, data, metadata: { now } }) as PatientCommand;

const penicillin: PatientEvent = {
  type: "AllergyRecorded",
  data: {
    patientId,
    allergyId,
    substance: { code: "penicillin", text: "Penicillin" },
    reaction: "Hives and wheeze",
    severity: "severe",
    source: "patient",
    note: null,
  },
};

const safetyOf = (state: PatientState) => (state.status === "registered" ? state.safety : null);

describe("RecordAllergy", () => {
  it("records an allergy: the chart's allergies say so and medication orders are checked against it", () => {
    const state = given(patientDecider, [registered])
      .when(
        command("RecordAllergy", {
          patientId,
          allergyId,
          substance: { code: "penicillin", text: " Penicillin " },
          reaction: "Hives and wheeze",
          severity: "severe",
          source: "patient",
          note: "",
        }),
      )
      .then([penicillin]);
    expect(safetyOf(state)).toEqual({
      allergyStatus: "recorded",
      allergies: [{ ...penicillin.data, patientId: undefined, status: "active", statusReason: null }].map(({ patientId: _p, ...a }) => a),
      alerts: [],
    });
    expect(patientCheck(state)).toMatchObject({ exists: true, allergies: [{ allergyId, substance: { text: "Penicillin" } }] });
  });

  it("refuses a second active allergy to the same substance, by code or by name", () => {
    given(patientDecider, [registered, penicillin])
      .when(command("RecordAllergy", { patientId, allergyId: otherAllergyId, substance: { code: null, text: "penicillin" }, reaction: null, severity: "mild", source: "relative", note: null }))
      .thenThrows("patient.allergy_already_recorded");
  });

  it("refuses an allergy without a substance, naming the field", () => {
    given(patientDecider, [registered])
      .when(command("RecordAllergy", { patientId, allergyId, substance: { code: null, text: "  " }, reaction: null, severity: "mild", source: "patient", note: null }))
      .thenThrowsValidation("substance.text");
  });

  it("an unknown patient is not found", () => {
    given(patientDecider, [])
      .when(command("RecordAllergy", { patientId, allergyId, substance: { code: "latex", text: "Latex" }, reaction: null, severity: "mild", source: "patient", note: null }))
      .thenThrowsNotFound("Patient", patientId);
  });
});

describe("no known allergies", () => {
  it("is not the same as nothing recorded", () => {
    expect(safetyOf(given(patientDecider, [registered]).state)?.allergyStatus).toBe("unknown");
    const state = given(patientDecider, [registered])
      .when(command("RecordNoKnownAllergies", { patientId }))
      .then([{ type: "NoKnownAllergiesRecorded", data: { patientId } }]);
    expect(safetyOf(state)?.allergyStatus).toBe("none_known");
  });

  it("is refused while an allergy is active, and asking again records nothing", () => {
    given(patientDecider, [registered, penicillin]).when(command("RecordNoKnownAllergies", { patientId })).thenThrows("patient.allergies_active");
    given(patientDecider, [registered, { type: "NoKnownAllergiesRecorded", data: { patientId } }])
      .when(command("RecordNoKnownAllergies", { patientId }))
      .then([]);
  });
});

describe("RefuteAllergy and ResolveAllergy", () => {
  it("refutes an allergy with a reason: kept in history, no longer active or checked", () => {
    const state = given(patientDecider, [registered, penicillin])
      .when(command("RefuteAllergy", { patientId, allergyId, reason: "Tolerated a full course of amoxicillin in 2024" }))
      .then([{ type: "AllergyRefuted", data: { patientId, allergyId, reason: "Tolerated a full course of amoxicillin in 2024" } }]);
    expect(safetyOf(state)?.allergies[0]).toMatchObject({ status: "refuted", statusReason: "Tolerated a full course of amoxicillin in 2024" });
    // Asked and answered: no active allergy left is "none known", not "not recorded".
    expect(safetyOf(state)?.allergyStatus).toBe("none_known");
    expect(patientCheck(state)).toMatchObject({ allergies: [] });
  });

  it("resolves an allergy with a reason", () => {
    given(patientDecider, [registered, penicillin])
      .when(command("ResolveAllergy", { patientId, allergyId, reason: "Desensitised" }))
      .then([{ type: "AllergyResolved", data: { patientId, allergyId, reason: "Desensitised" } }]);
  });

  it("needs a reason, an allergy that exists, and one still active", () => {
    given(patientDecider, [registered, penicillin]).when(command("RefuteAllergy", { patientId, allergyId, reason: " " })).thenThrowsValidation("reason");
    given(patientDecider, [registered, penicillin]).when(command("RefuteAllergy", { patientId, allergyId: otherAllergyId, reason: "Wrong chart" })).thenThrowsNotFound("Allergy", otherAllergyId);
    given(patientDecider, [registered, penicillin, { type: "AllergyResolved", data: { patientId, allergyId, reason: "Desensitised" } }])
      .when(command("RefuteAllergy", { patientId, allergyId, reason: "Wrong chart" }))
      .thenThrows("patient.allergy_not_active");
  });
});

describe("clinical alerts", () => {
  const fallRisk: PatientEvent = { type: "AlertRecorded", data: { patientId, alertId, kind: "fall_risk", note: "Unsteady on standing" } };

  it("records an alert and resolves it with a reason", () => {
    const state = given(patientDecider, [registered])
      .when(command("RecordAlert", { patientId, alertId, kind: "fall_risk", note: "Unsteady on standing" }))
      .then([fallRisk]);
    expect(safetyOf(state)?.alerts).toEqual([{ alertId, kind: "fall_risk", note: "Unsteady on standing", active: true, resolvedReason: null }]);
    const after = given(patientDecider, [registered, fallRisk])
      .when(command("ResolveAlert", { patientId, alertId, reason: "Walking independently" }))
      .then([{ type: "AlertResolved", data: { patientId, alertId, reason: "Walking independently" } }]);
    expect(safetyOf(after)?.alerts[0]).toMatchObject({ active: false, resolvedReason: "Walking independently" });
  });

  it("refuses the same kind twice while active, and resolving twice", () => {
    given(patientDecider, [registered, fallRisk]).when(command("RecordAlert", { patientId, alertId: otherAllergyId, kind: "fall_risk", note: null })).thenThrows("patient.alert_already_active");
    given(patientDecider, [registered, fallRisk, { type: "AlertResolved", data: { patientId, alertId, reason: "Walking" } }])
      .when(command("ResolveAlert", { patientId, alertId, reason: "Again" }))
      .thenThrows("patient.alert_not_active");
  });
});
