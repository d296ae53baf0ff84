// Display helpers shared by the clinical screens: dates, ages, enum labels and badge colours.
import type { Address } from "@/server/domain/patient/events";

const pad = (n: number) => String(n).padStart(2, "0");

/** Local date and time as "2026-11-27 14:05": unambiguous across locales, dense in tables. */
export function formatDateTime(value: Date | string | null | undefined): string {
  if (value === null || value === undefined) return "—";
  const d = typeof value === "string" ? new Date(value) : value;
  if (Number.isNaN(d.getTime())) return String(value);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** Age from an ISO date of birth: years, or months / days for infants. */
export function ageFrom(dateOfBirth: string, now: Date): string {
  const [y, m, d] = dateOfBirth.split("-").map(Number);
  if (!y || !m || !d) return "";
  let years = now.getFullYear() - y;
  let months = now.getMonth() + 1 - m;
  if (now.getDate() < d) months -= 1;
  if (months < 0) {
    years -= 1;
    months += 12;
  }
  if (years < 0) return "";
  if (years >= 2) return `${years} y`;
  const totalMonths = years * 12 + months;
  if (totalMonths >= 1) return `${totalMonths} mo`;
  const days = Math.floor((now.getTime() - new Date(y, m - 1, d).getTime()) / 86_400_000);
  return `${Math.max(days, 0)} d`;
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

export const label = (value: string): string => specialLabels[value] ?? humanize(value);

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

export function priorityBadgeClass(priority: string): string {
  if (priority === "stat") return "badge bad";
  if (priority === "urgent") return "badge warn";
  return "badge";
}

export function formatAddress(address: Partial<Address> | null | undefined): string {
  if (!address) return "—";
  return [address.line1, address.line2, [address.postalCode, address.city].filter(Boolean).join(" "), address.region, address.country]
    .filter(Boolean)
    .join(", ");
}

/** Any stored value, as one short line: for history diffs. */
export function formatValue(value: unknown): string {
  if (value === null || value === undefined || value === "") return "—";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (typeof value === "object" && "line1" in value) return formatAddress(value as Partial<Address>);
  return JSON.stringify(value);
}

/** Human names of the patient demographic fields. */
export const demographicLabels: Record<string, string> = {
  givenName: "Given name",
  familyName: "Family name",
  dateOfBirth: "Date of birth",
  sex: "Sex",
  email: "Email",
  phone: "Phone",
  address: "Address",
};

export const fullName = (p: { givenName: string; familyName: string }) => [p.givenName, p.familyName].filter(Boolean).join(" ");
export const listName = (p: { givenName: string; familyName: string }) => (p.givenName ? `${p.familyName}, ${p.givenName}` : p.familyName);
