// The demographics edit's diff and merge: which fields a form changed from the version it edits,
// the changes an update sends, and the re-base onto a newer version. The fields' checks are the
// shared schemas' (shared/clinical/patients.ts).
import { addressKeys, toDemographics, type Address, type Demographics, type DemographicField, type DemographicsForm } from "@/shared/clinical/patients";

export const demographicFieldOrder: DemographicField[] = ["givenName", "familyName", "dateOfBirth", "sex", "email", "phone", "address"];

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

/**
 * Server field paths to form keys: "address.country" -> "country", "changes.email" -> "email";
 * an address error without a sub-field goes to line1 so it shows inside the address block.
 */
export function formKeyOfPath(path: string): string {
  const parts = path.replace(/^changes\./, "").split(".");
  if (parts[0] === "address") return parts[1] ?? "line1";
  return parts[0] ?? path;
}
