"use client";
// The one way the console (clinical and compliance screens alike) shows an instant: in the reader's locale and time zone,
// with the zone named, and the exact UTC instant in the tooltip and the <time> element. Before
// hydration (on the server) the reader's zone is unknown: the instant is shown in UTC, marked so.
import { useHydrated } from "./audit/useHydrated";

export type DateTimePrecision = "minute" | "second" | "millisecond";

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(precision: DateTimePrecision, timeZone?: string): Intl.DateTimeFormat {
  const key = `${precision}|${timeZone ?? ""}`;
  let f = formatters.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat(undefined, {
      year: "numeric",
      month: "short",
      day: "numeric",
      hour: "2-digit",
      minute: "2-digit",
      ...(precision !== "minute" ? { second: "2-digit" } : {}),
      ...(precision === "millisecond" ? { fractionalSecondDigits: 3 } : {}),
      timeZoneName: "short",
      ...(timeZone ? { timeZone } : {}),
    });
    formatters.set(key, f);
  }
  return f;
}

/** An instant as the console shows it ("27 Nov 2026, 14:05:07 CET"); `utc` forces UTC (server rendering, exports). */
export function formatZoned(value: Date, precision: DateTimePrecision = "second", utc = false): string {
  return formatter(precision, utc ? "UTC" : undefined).format(value);
}

export function DateTime({ value, precision = "second", className }: { value: Date | string | null | undefined; precision?: DateTimePrecision; className?: string }) {
  const hydrated = useHydrated();
  if (value === null || value === undefined) return <span className={className}>—</span>;
  const d = typeof value === "string" ? new Date(value) : value;
  if (Number.isNaN(d.getTime())) return <span className={className}>{String(value)}</span>;
  return (
    <time dateTime={d.toISOString()} title={d.toISOString()} className={className}>
      {formatZoned(d, precision, !hydrated)}
    </time>
  );
}

/** The same text as <DateTime>, for places that take only text (an <option>, a title). */
export function useZonedText(): (value: Date | string | null | undefined, precision?: DateTimePrecision) => string {
  const hydrated = useHydrated();
  return (value, precision = "minute") => {
    if (value === null || value === undefined) return "—";
    const d = typeof value === "string" ? new Date(value) : value;
    return Number.isNaN(d.getTime()) ? String(value) : formatZoned(d, precision, !hydrated);
  };
}
