// Display helpers for the audit screens: exact instants (an audit needs the milliseconds the
// store keeps), short ids, event titles, enum labels and values as one line.
import type { inferRouterOutputs } from "@trpc/server";
import type { AppRouter } from "@/server/api/root";

type Outputs = inferRouterOutputs<AppRouter>;
export type AuditEvent = Outputs["audit"]["events"]["items"][number];
export type EventDetailData = Outputs["audit"]["event"];
export type TimelineData = Outputs["audit"]["patientTimeline"];
export type TimelineItem = TimelineData["items"][number];
export type RecordAsOf = Outputs["audit"]["patientAsOf"];

const pad = (n: number, w = 2) => String(n).padStart(w, "0");

/** Local "2026-11-27 14:05:07": dense and unambiguous in tables. */
export function formatSeconds(d: Date): string {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** Local "2026-11-27 14:05:07.123": the precision the store records. */
export function formatInstant(d: Date): string {
  return `${formatSeconds(d)}.${pad(d.getMilliseconds(), 3)}`;
}

/** The value of a datetime-local input (step 0.001) for this instant, in local time. */
export function toLocalInput(d: Date): string {
  return formatInstant(d).replace(" ", "T");
}

/** A datetime-local value (local time) as a Date; undefined when empty or invalid. */
export function fromLocalInput(value: string | null | undefined): Date | undefined {
  if (!value) return undefined;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

/** The browser's time zone, for "local time" captions. */
export function localZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "local time";
  } catch {
    return "local time";
  }
}

export const shortId = (id: string | null | undefined, n = 8): string => (id ? (id.length > n + 1 ? `${id.slice(0, n)}…` : id) : "—");

/** "encounter-3f2a…" -> { type: "encounter", id: "3f2a…" } */
export function splitStream(streamId: string): { type: string; id: string } {
  const dash = streamId.indexOf("-");
  return dash < 0 ? { type: streamId, id: "" } : { type: streamId.slice(0, dash), id: streamId.slice(dash + 1) };
}

const titles: Record<string, string> = {
  PatientRegistered: "Patient registered",
  PatientDemographicsUpdated: "Demographics updated",
  EncounterStarted: "Encounter started",
  EncounterCompleted: "Encounter completed",
  OrderCreated: "Order placed",
  OrderStatusChanged: "Order status changed",
};

export function eventTitle(type: string): string {
  return titles[type] ?? type.replace(/([a-z])([A-Z])/g, "$1 $2").replace(/^./, (c) => c.toUpperCase());
}

const specialLabels: Record<string, string> = { stat: "STAT", home_visit: "Home visit", in_progress: "In progress", on_hold: "On hold" };

/** "left_against_advice" -> "Left against advice". */
export function label(value: string): string {
  if (specialLabels[value]) return specialLabels[value];
  const words = value.replace(/_/g, " ").trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

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

type AddressLike = { line1?: string; line2?: string; city?: string; region?: string; postalCode?: string; country?: string };

export function formatAddress(address: AddressLike | null | undefined): string {
  if (!address) return "—";
  return [address.line1, address.line2, [address.postalCode, address.city].filter(Boolean).join(" "), address.region, address.country]
    .filter(Boolean)
    .join(", ");
}

/** Any stored value as one short line. */
export function formatValue(value: unknown): string {
  if (value === null || value === undefined || value === "") return "—";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (typeof value === "object" && "line1" in value) return formatAddress(value as AddressLike);
  return JSON.stringify(value);
}

export const sameValue = (a: unknown, b: unknown): boolean => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/** The message of a failed query, with the usual codes in words. */
export function errorText(error: unknown): string {
  const e = error as { message?: string; data?: { code?: string } | null } | null;
  switch (e?.data?.code) {
    case "NOT_FOUND":
      return e.message ?? "Not found.";
    case "FORBIDDEN":
      return "Your role does not allow this.";
    case "UNAUTHORIZED":
      return "Your session has ended: sign in again.";
    default:
      return e?.message ?? "Something went wrong.";
  }
}
