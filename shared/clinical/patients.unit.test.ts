import { describe, expect, it } from "vitest";
import type { z } from "zod";
import {
  demographicsChangesInput,
  editDemographicsFormFor,
  emptyDemographicsForm,
  latestDateOnEarth,
  registerPatientFormSchema,
  registerPatientSchema,
  toDemographics,
  type DemographicsForm,
} from "./patients";

const filled: DemographicsForm = {
  ...emptyDemographicsForm,
  givenName: " Iris ",
  familyName: "Quill",
  dateOfBirth: "1979-04-02",
  sex: "female",
  email: "iris@example.org",
  phone: "+1 555 0199",
  line1: "1 Main St",
  city: "Springfield",
  postalCode: "12345",
  country: "us",
};

/** Path -> first message, as react-hook-form's resolver would mark the fields. */
function marked(result: z.ZodSafeParseResult<unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  if (!result.success) for (const i of result.error.issues) out[i.path.join(".")] ??= i.message;
  return out;
}

describe("registerPatientFormSchema", () => {
  it("turns the form's strings into what patient.register takes, and the server's schema accepts it", () => {
    const parsed = registerPatientFormSchema.parse({ ...filled, mrn: " ab12cd34 " });
    expect(parsed).toEqual({
      mrn: "AB12CD34",
      givenName: "Iris",
      familyName: "Quill",
      dateOfBirth: "1979-04-02",
      sex: "female",
      email: "iris@example.org",
      phone: "+1 555 0199",
      address: { line1: "1 Main St", city: "Springfield", postalCode: "12345", country: "US" },
    });
    expect(registerPatientSchema.safeParse(parsed).success).toBe(true);
    // Blank optional fields are sent as null.
    const minimal = registerPatientFormSchema.parse({ ...emptyDemographicsForm, mrn: "ABC123", familyName: "Quill", dateOfBirth: "2001-01-01", sex: "other" });
    expect(minimal).toMatchObject({ email: null, phone: null, address: null, givenName: "" });
    expect(registerPatientSchema.safeParse(minimal).success).toBe(true);
  });

  it("names each bad field with a message for the person at the form", () => {
    const tomorrow = latestDateOnEarth(new Date(Date.now() + 86_400_000 * 2));
    expect(marked(registerPatientFormSchema.safeParse({ ...emptyDemographicsForm, mrn: "bad" }))).toEqual({
      mrn: "6 to 12 upper-case letters or digits.",
      familyName: "Enter the family name.",
      dateOfBirth: "Enter the date of birth.",
      sex: "Choose the sex recorded for the patient.",
    });
    expect(marked(registerPatientFormSchema.safeParse({ ...filled, mrn: "", email: "nope", phone: "call me", dateOfBirth: tomorrow }))).toEqual({
      mrn: "Enter the medical record number.",
      email: "Enter an email address like name@example.org.",
      phone: "Use digits with optional + ( ) - . separators.",
      dateOfBirth: "The date of birth cannot be in the future.",
    });
    expect(marked(registerPatientFormSchema.safeParse({ ...filled, mrn: "ABC123", dateOfBirth: "1899-12-31", familyName: "x".repeat(101) }))).toEqual({
      dateOfBirth: "The date of birth must be 1900-01-01 or later.",
      familyName: "At most 100 characters.",
    });
  });

  it("takes an address whole or not at all", () => {
    expect(marked(registerPatientFormSchema.safeParse({ ...filled, mrn: "ABC123", line1: "", city: "", postalCode: "", country: "USA", region: "North" }))).toEqual({
      line1: "Enter the first address line, or clear the address.",
      city: "Enter the city.",
      postalCode: "Enter the postal code.",
      country: "Enter a two-letter country code, e.g. US.",
    });
  });
});

describe("editDemographicsFormFor", () => {
  it("checks only what changed, and wants a reason once something did", () => {
    // A record stored under older rules (no sex) can still have its phone corrected.
    const stored = { ...filled, sex: "", reason: "" };
    expect(editDemographicsFormFor(new Set()).safeParse(stored).success).toBe(true);
    expect(marked(editDemographicsFormFor(new Set(["phone"])).safeParse({ ...stored, phone: "x" }))).toEqual({
      phone: "Use digits with optional + ( ) - . separators.",
      reason: "Say why the record is being changed.",
    });
    expect(marked(editDemographicsFormFor(new Set(["address"])).safeParse({ ...stored, city: "", reason: "moved" }))).toEqual({ city: "Enter the city." });
    expect(editDemographicsFormFor(new Set(["phone"])).safeParse({ ...stored, reason: "New number" }).success).toBe(true);
  });

  it("sends changes the server's schema accepts", () => {
    const { address, email } = toDemographics(filled);
    expect(demographicsChangesInput.safeParse({ address, email }).success).toBe(true);
  });
});
