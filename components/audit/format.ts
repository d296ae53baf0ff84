// Display helpers of the audit screens only: datetime-local inputs to the millisecond, short ids,
// stream ids, value comparison and query errors. The shared ones are in components/format.ts.
import type { inferRouterOutputs } from "@trpc/server";
import type { AppRouter } from "@/server/api/root";
import { instantsAtWallTime } from "@/shared/wallTime";
import { formatInstant } from "../format";
import { noApiAnswerMessage, readError } from "../clinical/errors";

type Outputs = inferRouterOutputs<AppRouter>;
export type AuditEvent = Outputs["audit"]["events"]["items"][number];
export type EventDetailData = Outputs["audit"]["event"];
export type TimelineData = Outputs["audit"]["patientTimeline"];
export type TimelineItem = TimelineData["items"][number];
export type RecordAsOf = Outputs["audit"]["recordAt"];
export type RecordDiffData = Outputs["audit"]["recordDiff"];
export type LatestSealData = Outputs["audit"]["latestSeal"];
export type RecordTicks = Outputs["audit"]["recordTicks"];

/** The value of a datetime-local input (step 0.001) for this instant, in local time. */
export function toLocalInput(d: Date): string {
  return formatInstant(d).replace(" ", "T");
}

/**
 * A datetime-local value (local time) as a Date; undefined when empty or invalid. `shown`: the
 * instant the input was filled with. An unedited value keeps that instant: in the hour that
 * occurs twice when clocks go back, local time alone cannot say which of the two it was, and
 * the browser reads it as the first, so submitting a moment unchanged moved it an hour back.
 */
export function fromLocalInput(value: string | null | undefined, shown?: Date): Date | undefined {
  if (!value) return undefined;
  // Compared as instants, not text: the browser may hand the value back shortened ("…T01:30").
  if (shown && instantsAtWallTime(value)?.some((at) => at.getTime() === shown.getTime())) return shown;
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

/** The browser's time zone with its current offset, for pickers: "Europe/Berlin (UTC+01:00)". */
export function zoneCaption(at: Date = new Date()): string {
  const minutes = -at.getTimezoneOffset();
  const sign = minutes < 0 ? "-" : "+";
  const abs = Math.abs(minutes);
  return `${localZone()} (UTC${sign}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")})`;
}

export const shortId = (id: string | null | undefined, n = 8): string => (id ? (id.length > n + 1 ? `${id.slice(0, n)}…` : id) : "—");

/** A causation id in a few characters: "command 3f2a91c0…" for a command, the event id's start otherwise. */
export const causationLabel = (id: string | null | undefined): string =>
  id?.startsWith("command:") ? `command ${shortId(id.slice("command:".length))}` : shortId(id);

/** "encounter-3f2a…" -> { type: "encounter", id: "3f2a…" } */
export function splitStream(streamId: string): { type: string; id: string } {
  const dash = streamId.indexOf("-");
  return dash < 0 ? { type: streamId, id: "" } : { type: streamId.slice(0, dash), id: streamId.slice(dash + 1) };
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
    case "BAD_REQUEST":
      // zod's report is several lines with symbols; one line, each field with its message.
      return readError(error).message;
    default:
      // No tRPC error shape: the request never reached the API, or its answer was lost
      // (the browser's own words, "Failed to fetch", say nothing to the reader).
      if (!e?.data) return noApiAnswerMessage(error);
      return e.message ?? "Something went wrong.";
  }
}
