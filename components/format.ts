// Display helpers shared by every console: local dates and instants, enum labels, badge colours,
// event titles and stored values as one line.
import { flagText } from "@/shared/clinical/results";
import { safetyLabels } from "@/shared/clinical/safety";
import type { Address } from "@/server/domain/patient/events";

const pad = (n: number, w = 2) => String(n).padStart(w, "0");

/** Local "2026-11-27 14:05:07": dense and unambiguous in tables. */
export function formatSeconds(d: Date): string {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** Local "2026-11-27 14:05:07.123": the precision the store records. */
export function formatInstant(d: Date): string {
  return `${formatSeconds(d)}.${pad(d.getMilliseconds(), 3)}`;
}

/** Local date and time as "2026-11-27 14:05": unambiguous across locales, dense in tables. */
export function formatDateTime(value: Date | string | null | undefined): string {
  if (value === null || value === undefined) return "—";
  const d = typeof value === "string" ? new Date(value) : value;
  if (Number.isNaN(d.getTime())) return String(value);
  return formatSeconds(d).slice(0, 16);
}

/** "left_against_advice" -> "Left against advice". */
export function humanize(value: string): string {
  const words = value.replace(/_/g, " ").trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

const specialLabels: Record<string, string> = {
  stat: "STAT",
  home_visit: "Home visit",
  in_progress: "In progress",
  on_hold: "On hold",
};

export const label = (value: string): string => specialLabels[value] ?? safetyLabels[value] ?? humanize(value);

export function statusBadgeClass(status: string): string {
  switch (status) {
    case "completed":
      return "badge ok";
    case "on_hold":
      return "badge warn";
    case "in_progress":
      return "badge info";
    case "cancelled":
      return "badge muted";
    default:
      return "badge";
  }
}

const titles: Record<string, string> = {
  PatientRegistered: "Patient registered",
  PatientDemographicsUpdated: "Demographics updated",
  CriticalResultFlagged: "Critical result",
  EncounterStarted: "Encounter started",
  EncounterCompleted: "Encounter completed",
  OrderCreated: "Order placed",
  OrderStatusChanged: "Order status changed",
  PatientErased: "Patient erased",
  AllergyRecorded: "Allergy recorded",
  NoKnownAllergiesRecorded: "No known allergies",
  AllergyRefuted: "Allergy refuted",
  AllergyResolved: "Allergy resolved",
  AlertRecorded: "Alert recorded",
  AlertResolved: "Alert resolved",
  MedicationAllergyOverridden: "Allergy check overridden",
  OutboxDeadLetterRetried: "Dead letter retried",
  OutboxDeadLetterSetAside: "Dead letter set aside",
  SnapshotsDiscarded: "Snapshots discarded",
};

/** "PatientRegistered" -> "Patient registered"; unknown types are split at their capitals. */
export function eventTitle(type: string): string {
  return titles[type] ?? type.replace(/([a-z])([A-Z])/g, "$1 $2").replace(/^./, (c) => c.toUpperCase());
}

/** Human names of the patient's fields. */
export const demographicLabels: Record<string, string> = {
  mrn: "MRN",
  givenName: "Given name",
  familyName: "Family name",
  dateOfBirth: "Date of birth",
  sex: "Sex",
  email: "Email",
  phone: "Phone",
  address: "Address",
  active: "Active",
};

export function formatAddress(address: Partial<Address> | null | undefined): string {
  if (!address) return "—";
  return [address.line1, address.line2, [address.postalCode, address.city].filter(Boolean).join(" "), address.region, address.country]
    .filter(Boolean)
    .join(", ");
}

/** Any stored value, as one short line. */
export function formatValue(value: unknown): string {
  if (value === null || value === undefined || value === "") return "—";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (typeof value === "object" && "line1" in value) return formatAddress(value as Partial<Address>);
  return JSON.stringify(value);
}

/**
 * {"K+": {"value": 6.9, "unit": "mmol/L", "flag": "AA"}, "report": "called"} -> "K+ 6.9 mmol/L (critical abnormal); report: called".
 * Flags are written out: a bare "AA" or "L" is easy to misread or miss.
 */
export function resultSummary(result: unknown): string {
  if (!result || typeof result !== "object") return formatValue(result);
  // A flag may sit on the whole result ({ value, unit, flag }), not only on named values.
  if ("value" in result) return measured(result as Measured);
  return Object.entries(result as Record<string, unknown>)
    .map(([k, v]) => {
      if (v && typeof v === "object" && "value" in v) return `${k} ${measured(v as Measured)}`;
      return k === "report" ? `report: ${formatValue(v)}` : `${k} ${formatValue(v)}`;
    })
    .join("; ");
}

type Measured = { value: unknown; unit?: unknown; flag?: unknown };
function measured({ value, unit, flag }: Measured): string {
  return `${formatValue(value)}${unit ? ` ${formatValue(unit)}` : ""}${flag ? ` (${typeof flag === "string" ? flagText(flag) : formatValue(flag)})` : ""}`;
}

/** 2310144 -> "2.2 MB": sizes in binary units, three significant digits. */
export function formatBytes(v: number): string {
  const units = ["B", "kB", "MB", "GB", "TB"];
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${Number(v.toPrecision(3))} ${units[i]}`;
}

/** "1 seal", "2 seals", "1,234 events": a count with its noun, in the number's form. */
export function counted(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString()} ${n === 1 ? one : many}`;
}

/**
 * "<what happened> Try again in N seconds." from a 429's retryAfterSeconds (a minute's window per
 * address, up to 15 minutes per account); null when the answer named no wait.
 */
export function waitMessage(retryAfterSeconds: unknown, what: string): string | null {
  if (typeof retryAfterSeconds !== "number" || !Number.isFinite(retryAfterSeconds) || retryAfterSeconds <= 0) return null;
  const seconds = Math.ceil(retryAfterSeconds);
  const wait = seconds <= 90 ? counted(seconds, "second") : counted(Math.ceil(seconds / 60), "minute");
  return `${what} Try again in ${wait}.`;
}

/**
 * An MRN in running text, labelled: "MRN: MRN101143". The value is shown as stored, whatever it
 * starts with (the seeded ones begin "MRN"), so the label is set apart rather than prefixed; a
 * table gives it a column headed "MRN" instead.
 */
export const mrnText = (mrn: string): string => `MRN: ${mrn}`;
