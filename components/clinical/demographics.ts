// The demographics form's model: string fields in the form, the domain's shapes on the wire,
// client checks that mirror the server's schema (the server stays the authority), and the diff
// that an update sends.
import { mrnPattern, phonePattern, type Sex } from "@/shared/clinical/patients";
import type { Address, Demographics, DemographicField } from "@/server/domain/patient/events";
import type { FieldErrors } from "./form";
import { latestDateOnEarth } from "./form";

export type DemographicsForm = {
  givenName: string;
  familyName: string;
  dateOfBirth: string;
  sex: string;
  email: string;
  phone: string;
  line1: string;
  line2: string;
  city: string;
  region: string;
  postalCode: string;
  country: string;
};

export const addressKeys = ["line1", "line2", "city", "region", "postalCode", "country"] as const;
export const demographicFieldOrder: DemographicField[] = ["givenName", "familyName", "dateOfBirth", "sex", "email", "phone", "address"];

export const emptyDemographics: DemographicsForm = {
  givenName: "",
  familyName: "",
  dateOfBirth: "",
  sex: "",
  email: "",
  phone: "",
  line1: "",
  line2: "",
  city: "",
  region: "",
  postalCode: "",
  country: "",
};

type PatientLike = {
  givenName: string;
  familyName: string;
  dateOfBirth: string;
  sex: string;
  email: string | null;
  phone: string | null;
  address: unknown;
};

export function toForm(p: PatientLike): DemographicsForm {
  const a = (p.address ?? {}) as Partial<Address>;
  return {
    givenName: p.givenName,
    familyName: p.familyName,
    dateOfBirth: p.dateOfBirth,
    sex: p.sex,
    email: p.email ?? "",
    phone: p.phone ?? "",
    line1: a.line1 ?? "",
    line2: a.line2 ?? "",
    city: a.city ?? "",
    region: a.region ?? "",
    postalCode: a.postalCode ?? "",
    country: a.country ?? "",
  };
}

export const hasAddress = (f: DemographicsForm) => addressKeys.some((k) => f[k].trim() !== "");

/** The domain's values; key order of the address as the server normalizes it, so JSON compares. */
export function toDemographics(f: DemographicsForm): Demographics {
  const t = (s: string) => s.trim();
  return {
    givenName: t(f.givenName),
    familyName: t(f.familyName),
    dateOfBirth: f.dateOfBirth,
    sex: f.sex as Sex,
    email: t(f.email) || null,
    phone: t(f.phone) || null,
    address: hasAddress(f)
      ? {
          line1: t(f.line1),
          ...(t(f.line2) && { line2: t(f.line2) }),
          city: t(f.city),
          ...(t(f.region) && { region: t(f.region) }),
          postalCode: t(f.postalCode),
          country: t(f.country).toUpperCase(),
        }
      : null,
  };
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** The fields whose values differ between two forms (the address counts as one field). */
export function changedFields(from: DemographicsForm, to: DemographicsForm): DemographicField[] {
  const a = toDemographics(from);
  const b = toDemographics(to);
  return demographicFieldOrder.filter((f) => !same(a[f], b[f]));
}

export function changesBetween(from: DemographicsForm, to: DemographicsForm): Partial<Demographics> {
  const b = toDemographics(to);
  const out: Partial<Record<DemographicField, unknown>> = {};
  for (const f of changedFields(from, to)) out[f] = b[f];
  return out as Partial<Demographics>;
}

/** Keeps the user's own edits (relative to `base`) on top of `latest`: a three-way merge by field. */
export function rebase(base: DemographicsForm, mine: DemographicsForm, latest: DemographicsForm): DemographicsForm {
  const next = { ...latest };
  for (const f of changedFields(base, mine)) {
    if (f === "address") for (const k of addressKeys) next[k] = mine[k];
    else next[f] = mine[f];
  }
  return next;
}

const emailPattern = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** Mirrors the server's checks. Keys are form keys; `address` for the block as a whole. */
export function validateDemographics(f: DemographicsForm, now: Date, only?: ReadonlySet<DemographicField>): FieldErrors {
  const e: FieldErrors = {};
  const check = (field: DemographicField) => !only || only.has(field);
  if (check("familyName")) {
    if (!f.familyName.trim()) e.familyName = "Enter the family name.";
    else if (f.familyName.trim().length > 100) e.familyName = "At most 100 characters.";
  }
  if (check("givenName") && f.givenName.trim().length > 100) e.givenName = "At most 100 characters.";
  if (check("dateOfBirth")) {
    if (!f.dateOfBirth) e.dateOfBirth = "Enter the date of birth.";
    else if (!/^\d{4}-\d{2}-\d{2}$/.test(f.dateOfBirth)) e.dateOfBirth = "Use the format YYYY-MM-DD.";
    else if (f.dateOfBirth > latestDateOnEarth(now)) e.dateOfBirth = "The date of birth cannot be in the future.";
  }
  if (check("sex") && !f.sex) e.sex = "Choose the sex recorded for the patient.";
  if (check("email") && f.email.trim() && !emailPattern.test(f.email.trim())) e.email = "Enter an email address like name@example.org.";
  if (check("phone") && f.phone.trim() && !phonePattern.test(f.phone.trim())) {
    e.phone = "Use digits with optional + ( ) - . separators.";
  }
  if (check("address") && hasAddress(f)) {
    if (!f.line1.trim()) e.line1 = "Enter the first address line, or clear the address.";
    if (!f.city.trim()) e.city = "Enter the city.";
    if (!f.postalCode.trim()) e.postalCode = "Enter the postal code.";
    if (!/^[A-Za-z]{2}$/.test(f.country.trim())) e.country = "Enter a two-letter country code, e.g. US.";
  }
  return e;
}

export function validateMrn(mrn: string): string | undefined {
  if (!mrn.trim()) return "Enter the medical record number.";
  if (!mrnPattern.test(mrn.trim())) return "6 to 12 upper-case letters or digits.";
  return undefined;
}

/**
 * Server field paths to form keys: "address.country" -> "country", "changes.email" -> "email";
 * an address error without a sub-field goes to line1 so it shows inside the address block.
 */
export function formKeyOfPath(path: string): string {
  const parts = path.replace(/^changes\./, "").split(".");
  if (parts[0] === "address") return parts[1] ?? "line1";
  return parts[0] ?? path;
}
