import { describe, expect, it } from "vitest";
import { eventRegistry } from "../registry";
import { given } from "../testing";
import {
  latestDateOnEarth,
  patientCheck,
  patientDecider,
  type ErasePatient,
  type FlagCriticalResult,
  type RegisterPatient,
  type UpdatePatientDemographics,
} from "./decider";
import { mrnPattern, splitLegacyName, type PatientEvent } from "./events";

const patientId = "0b8f5a8e-3c1d-4e7a-9f2b-6d4c3b2a1e0f";
const now = new Date("2026-03-15T10:00:00.000Z");

const register = (data: Partial<RegisterPatient["data"]> = {}): RegisterPatient => ({
  type: "RegisterPatient",
  data: {
    patientId,
    mrn: "MRN00042",
    givenName: "Ada",
    familyName: "Lovelace",
    dateOfBirth: "1985-12-10",
    sex: "female",
    ...data,
  },
  metadata: { now },
});

const registered: PatientEvent = {
  type: "PatientRegistered",
  data: {
    patientId,
    mrn: "MRN00042",
    givenName: "Ada",
    familyName: "Lovelace",
    dateOfBirth: "1985-12-10",
    sex: "female",
    email: "ada@example.org",
    phone: null,
    address: { line1: "1 Main St", city: "Springfield", postalCode: "12345", country: "US" },
  },
};

const update = (
  changes: UpdatePatientDemographics["data"]["changes"],
  reason = "Corrected at front desk",
): UpdatePatientDemographics => ({
  type: "UpdatePatientDemographics",
  data: { patientId, changes, reason },
  metadata: { now },
});

describe("RegisterPatient", () => {
  it("registers a new patient, absent contact details stored as null", () => {
    const state = given(patientDecider, [])
      .when(register())
      .then([
        {
          type: "PatientRegistered",
          data: {
            patientId,
            mrn: "MRN00042",
            givenName: "Ada",
            familyName: "Lovelace",
            dateOfBirth: "1985-12-10",
            sex: "female",
            email: null,
            phone: null,
            address: null,
          },
        },
      ]);
    expect(state).toMatchObject({ status: "registered", active: true, mrn: "MRN00042" });
    expect(patientCheck(state)).toEqual({ exists: true, active: true, allergies: [], dateOfBirth: "1985-12-10" });
  });

  it("trims names and keeps the address without empty optional keys", () => {
    given(patientDecider, [])
      .when(
        register({
          givenName: "  Ada ",
          email: "ada@example.org",
          phone: "+1 (555) 123-4567",
          address: { country: "US", postalCode: "12345", city: "Springfield", line1: "1 Main St", line2: undefined },
        }),
      )
      .then([
        {
          type: "PatientRegistered",
          data: {
            ...registered.data,
            phone: "+1 (555) 123-4567",
          },
        } as PatientEvent,
      ]);
  });

  it("refuses to register twice", () => {
    given(patientDecider, [registered]).when(register()).thenThrows("patient.already_registered");
  });

  it("refuses a date of birth in the future", () => {
    given(patientDecider, []).when(register({ dateOfBirth: "2026-03-17" })).thenThrows("patient.dob_in_future");
  });

  it("accepts today's date anywhere on Earth as a date of birth", () => {
    // 10:00 UTC is already the next day in UTC+14.
    expect(latestDateOnEarth(now)).toBe("2026-03-16");
    given(patientDecider, []).when(register({ dateOfBirth: "2026-03-16" })).then([
      expect.objectContaining({ type: "PatientRegistered" }),
    ]);
  });

  it.each([
    ["mrn", { mrn: "mrn-42" }],
    ["mrn", { mrn: "ABC12" }],
    ["email", { email: "not-an-email" }],
    ["phone", { phone: "call me" }],
    ["dateOfBirth", { dateOfBirth: "1985-02-30" }],
    ["sex", { sex: "x" as never }],
    ["familyName", { familyName: " " }],
    ["patientId", { patientId: "42" }],
    ["address.country", { address: { line1: "1 Main St", city: "Paris", postalCode: "75001", country: "France" } }],
  ])("refuses malformed %s", (field, data) => {
    given(patientDecider, []).when(register(data)).thenThrowsValidation(field);
  });

  it("exports the MRN format", () => {
    expect(mrnPattern.test("A1B2C3")).toBe(true);
    expect(mrnPattern.test("A1B2C3D4E5F6G")).toBe(false);
  });
});

describe("UpdatePatientDemographics", () => {
  it("records only the changed fields with their previous values", () => {
    const state = given(patientDecider, [registered])
      .when(update({ familyName: "King", givenName: "Ada", email: null }))
      .then([
        {
          type: "PatientDemographicsUpdated",
          data: {
            patientId,
            changes: { familyName: "King", email: null },
            previous: { familyName: "Lovelace", email: "ada@example.org" },
            reason: "Corrected at front desk",
          },
        },
      ]);
    expect(state).toMatchObject({ givenName: "Ada", familyName: "King", email: null, mrn: "MRN00042" });
  });

  it("records an address change as the whole new address", () => {
    const address = { line1: "2 Side St", city: "Springfield", postalCode: "12345", country: "US" };
    const state = given(patientDecider, [registered])
      .when(update({ address }))
      .then([
        {
          type: "PatientDemographicsUpdated",
          data: {
            patientId,
            changes: { address },
            previous: { address: registered.data.address as never },
            reason: "Corrected at front desk",
          },
        },
      ]);
    expect(state).toMatchObject({ address });
  });

  it("raises nothing when nothing changes, whatever the key order or missing reason", () => {
    const sameAddress = { country: "US", postalCode: "12345", city: "Springfield", line1: "1 Main St" };
    given(patientDecider, [registered])
      .when(update({ givenName: "Ada", address: sameAddress, phone: null, email: undefined }, ""))
      .then([]);
    given(patientDecider, [registered]).when(update({}, "")).then([]);
  });

  it("requires a reason of at most 500 characters for a real change", () => {
    given(patientDecider, [registered]).when(update({ familyName: "King" }, "  ")).thenThrowsValidation("reason");
    given(patientDecider, [registered])
      .when(update({ familyName: "King" }, "x".repeat(501)))
      .thenThrowsValidation("reason");
  });

  it("refuses a date of birth in the future", () => {
    given(patientDecider, [registered])
      .when(update({ dateOfBirth: "2027-01-01" }))
      .thenThrows("patient.dob_in_future");
  });

  it("does not change the MRN", () => {
    given(patientDecider, [registered])
      .when(update({ mrn: "NEWMRN01" } as never))
      .thenThrowsValidation("changes");
  });

  it("refuses an unregistered patient as not found", () => {
    given(patientDecider, []).when(update({ familyName: "King" })).thenThrowsNotFound("Patient", patientId);
    expect(patientCheck(patientDecider.initialState())).toEqual({ exists: false });
  });
});

describe("patient events", () => {
  it("round-trip through the registry", () => {
    const events: PatientEvent[] = [
      registered,
      {
        type: "PatientDemographicsUpdated",
        data: { patientId, changes: { phone: "555-0100" }, previous: { phone: null }, reason: "New number" },
      },
    ];
    for (const event of events) {
      const { eventVersion, data } = eventRegistry.encode(event);
      const stored = JSON.parse(JSON.stringify(data)) as unknown;
      expect(eventRegistry.decode(event.type, eventVersion, stored)).toEqual(event.data);
    }
    expect(eventRegistry.encode(registered).eventVersion).toBe(2);
  });

  it("refuses an update event whose changes and previous disagree", () => {
    expect(() =>
      eventRegistry.encode({
        type: "PatientDemographicsUpdated",
        data: { patientId, changes: { phone: "555-0100" }, previous: {}, reason: "x" },
      }),
    ).toThrow(/same, non-empty set of fields/);
  });

  it("upcasts a v1 PatientRegistered, splitting the single name on the last space", () => {
    const v1 = {
      patientId,
      mrn: "MRN00042",
      name: "Mary Ann  Smith",
      dateOfBirth: "1970-01-01",
      sex: "female",
      email: null,
      phone: null,
      address: null,
    };
    const decoded = eventRegistry.decode("PatientRegistered", 1, v1);
    expect(decoded).toEqual({
      patientId,
      mrn: "MRN00042",
      givenName: "Mary Ann",
      familyName: "Smith",
      dateOfBirth: "1970-01-01",
      sex: "female",
      email: null,
      phone: null,
      address: null,
    });
    const state = patientDecider.evolve(patientDecider.initialState(), {
      type: "PatientRegistered",
      data: decoded,
    } as PatientEvent);
    expect(state).toMatchObject({ status: "registered", givenName: "Mary Ann", familyName: "Smith" });
  });

  it("takes a single v1 name as the family name", () => {
    expect(splitLegacyName(" Cher ")).toEqual({ givenName: "", familyName: "Cher" });
  });
});

describe("FlagCriticalResult", () => {
  const orderId = "5d2c7a1e-8f3b-4c6d-9e0a-1b2c3d4e5f60";
  const flag = (over: Partial<FlagCriticalResult["data"]> = {}): FlagCriticalResult => ({
    type: "FlagCriticalResult",
    data: {
      patientId,
      orderId,
      orderKind: "lab",
      orderDescription: "Potassium, serum",
      findings: [{ name: "Potassium", value: 6.9, unit: "mmol/L", flag: "HH" }],
      resultedAt: new Date("2026-03-15T09:58:00.000Z"),
      ...over,
    },
    metadata: { now },
  });

  it("records the critical values on the patient and leaves the demographics as they were", () => {
    const before = given(patientDecider, [registered]).state;
    const after = given(patientDecider, [registered])
      .when(flag())
      .then([
        {
          type: "CriticalResultFlagged",
          data: {
            patientId,
            orderId,
            orderKind: "lab",
            orderDescription: "Potassium, serum",
            findings: [{ name: "Potassium", value: 6.9, unit: "mmol/L", flag: "HH" }],
            resultedAt: "2026-03-15T09:58:00.000Z",
          },
        },
      ]);
    expect(after).toEqual(before);
  });

  it("needs a registered patient, and at least one finding", () => {
    given(patientDecider).when(flag()).thenThrowsNotFound("Patient", patientId);
    given(patientDecider, [registered]).when(flag({ findings: [] })).thenThrowsValidation("findings");
  });
});

describe("ErasePatient", () => {
  const erase = (reason = "data subject request 2026-17"): ErasePatient => ({ type: "ErasePatient", data: { patientId, reason }, metadata: { now } });
  const erased: PatientEvent = { type: "PatientErased", data: { patientId, reason: "data subject request 2026-17", erasedAt: now.toISOString() } };

  it("records who-why-when as PatientErased, and leaves the patient inactive and marked erased", () => {
    const state = given(patientDecider, [registered]).when(erase()).then([erased]);
    expect(state).toMatchObject({ status: "registered", active: false, erasedAt: now.toISOString() });
  });

  it("refuses an unknown patient, a missing reason, and a second erasure", () => {
    given(patientDecider).when(erase()).thenThrowsNotFound("Patient", patientId);
    given(patientDecider, [registered]).when(erase("short")).thenThrowsValidation("reason");
    given(patientDecider, [registered, erased]).when(erase()).thenThrows("patient.erased");
  });

  it("records nothing more about an erased patient", () => {
    const update: UpdatePatientDemographics = { type: "UpdatePatientDemographics", data: { patientId, changes: { phone: "+1 555 0111" }, reason: "new number" }, metadata: { now } };
    given(patientDecider, [registered, erased]).when(update).thenThrows("patient.erased");
  });
});
