"use client";
// The compare view's values, read the way the chart reads them: allergies as substance · reaction
// · severity, alerts by kind, lists as lists, users by name, instants in the console's zoned
// format, an order's details and result as the chart words them. Items of a list that differ
// between the two moments are marked, so a change inside a list stays visible.
import type { Allergy, ClinicalAlert, PatientSafety } from "@/shared/clinical/safety";
import type { ReactNode } from "react";
import { DateTime } from "../DateTime";
import { demographicLabels, formatValue, label, resultSummary } from "../format";
import { sameValue, shortId, type RecordDiffData } from "./format";

type FieldChange = RecordDiffData["changes"][number]["fields"][number];
type Names = { users: Record<string, string>; encounters: Record<string, { encounterType: string; startedAt: Date }> };

/** One row of the compare table: a field (or part of one, like a patient's allergies) at both moments. */
export type DiffRow = { key: string; name: string; change: string; before: ReactNode; after: ReactNode; events: FieldChange["events"] };

const fieldNames: Record<string, string> = {
  ...demographicLabels,
  providerId: "Provider",
  encounterId: "Encounter",
  patientId: "Patient",
  encounterType: "Encounter type",
  startedAt: "Started",
  endedAt: "Ended",
  durationMinutes: "Duration (minutes)",
  dischargeDisposition: "Discharge disposition",
  scheduledFor: "Scheduled for",
  statusChangedAt: "Status changed",
  statusReason: "Reason for the status",
  resultData: "Result",
  details: "Order details",
  allergyStatus: "Allergy status",
  allergies: "Allergies",
  alerts: "Alerts",
};

export const fieldName = (field: string): string => fieldNames[field] ?? label(field);

const labelled = new Set(["status", "priority", "kind", "encounterType", "dischargeDisposition", "sex"]);
const isoInstant = /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$/;

const allergyStatusText: Record<string, string> = { unknown: "Not recorded", none_known: "No known allergies", recorded: "Allergies recorded" };

/** The chart's line for an allergy: "Penicillin · Anaphylaxis · Life threatening", with its status when no longer active. */
function allergyText(a: Allergy): string {
  const line = [a.substance.text, a.reaction, label(a.severity)].filter(Boolean).join(" · ");
  return a.status === "active" ? line : `${line} (${label(a.status)}${a.statusReason ? `: ${a.statusReason}` : ""})`;
}

function alertText(a: ClinicalAlert): string {
  const line = [label(a.kind), a.note].filter(Boolean).join(" · ");
  return a.active ? line : `${line} (resolved${a.resolvedReason ? `: ${a.resolvedReason}` : ""})`;
}

/**
 * A list at one moment, each item marked when the other moment lacks it ("new" on the second
 * side, "removed" on the first) or holds it otherwise ("changed").
 */
function ItemList<T>({ items, other, idOf, text, side }: { items: readonly T[]; other: readonly T[]; idOf: (t: T) => string; text: (t: T) => string; side: "before" | "after" }) {
  if (items.length === 0) return <span className="muted">None</span>;
  return (
    <ul className="plain diff-items">
      {items.map((item) => {
        const twin = other.find((o) => idOf(o) === idOf(item));
        const mark = !twin ? (side === "after" ? "new" : "removed") : sameValue(twin, item) ? null : "changed";
        return (
          <li key={idOf(item)} data-mark={mark ?? undefined} className={mark ? `diff-item ${mark}` : undefined}>
            {text(item)}
            {mark ? " " : null}
            {mark ? <span className={`badge ${mark === "new" ? "ok" : mark === "removed" ? "bad" : "warn"} small`}>{mark}</span> : null}
          </li>
        );
      })}
    </ul>
  );
}

/** A value of one field, as the chart would show it. */
export function DiffValue({ field, value, names }: { field: string; value: unknown; names: Names }): ReactNode {
  if (value === null || value === undefined || value === "") return <span className="muted">—</span>;
  if (field === "providerId" && typeof value === "string") return names.users[value] ?? <span className="mono">{value}</span>;
  if (field === "encounterId" && typeof value === "string") {
    const e = names.encounters[value];
    return e ? (
      <>
        {label(e.encounterType)}, started <DateTime value={e.startedAt} precision="minute" />
      </>
    ) : (
      <span className="mono">{shortId(value)}</span>
    );
  }
  if (field === "resultData") return resultSummary(value);
  if (labelled.has(field) && typeof value === "string") return label(value);
  if (typeof value === "string" && isoInstant.test(value)) return <DateTime value={value} precision="second" />;
  if (value instanceof Date) return <DateTime value={value} precision="second" />;
  if (Array.isArray(value)) {
    return (
      <ul className="plain">
        {value.map((v, i) => (
          <li key={i}>{typeof v === "object" && v !== null ? <ObjectLines value={v as Record<string, unknown>} names={names} /> : formatValue(v)}</li>
        ))}
      </ul>
    );
  }
  if (typeof value === "object" && !("line1" in value)) return <ObjectLines value={value as Record<string, unknown>} names={names} />;
  return formatValue(value);
}

/** An object as "Name: value" lines (an order's details: description, dose, route…). */
function ObjectLines({ value, names }: { value: Record<string, unknown>; names: Names }) {
  const entries = Object.entries(value).filter(([, v]) => v !== null && v !== undefined && v !== "");
  if (entries.length === 0) return <span className="muted">—</span>;
  return (
    <ul className="plain">
      {entries.map(([k, v]) => (
        <li key={k}>
          <span className="muted">{fieldName(k)}:</span> <DiffValue field={k} value={v} names={names} />
        </li>
      ))}
    </ul>
  );
}

const safetyOf = (v: unknown): PatientSafety => {
  const s = (v ?? {}) as Partial<PatientSafety>;
  return { allergyStatus: s.allergyStatus ?? "unknown", allergies: s.allergies ?? [], alerts: s.alerts ?? [] };
};

/**
 * The compare table's rows for one record: a field per row, except the patient's safety facts,
 * which are three rows (allergy status, allergies, alerts), each only when it differs. The ids
 * that name the record itself (its own id, its patient's) are in the heading, not rows.
 */
export function diffRows(fields: readonly FieldChange[], names: Names, recordId: string): DiffRow[] {
  return fields.flatMap((f): DiffRow[] => {
    if (f.field === "patientId" || (f.field.endsWith("Id") && (f.before === recordId || f.after === recordId))) return [];
    if (f.field !== "safety") {
      return [
        {
          key: f.field,
          name: fieldName(f.field),
          change: f.change,
          before: <DiffValue field={f.field} value={f.before} names={names} />,
          after: <DiffValue field={f.field} value={f.after} names={names} />,
          events: f.events,
        },
      ];
    }
    const a = safetyOf(f.before);
    const b = safetyOf(f.after);
    const rows: DiffRow[] = [];
    const row = (key: keyof PatientSafety, before: ReactNode, after: ReactNode) =>
      rows.push({ key: `safety.${key}`, name: fieldName(key), change: f.change, before, after, events: f.events });
    if (a.allergyStatus !== b.allergyStatus) row("allergyStatus", allergyStatusText[a.allergyStatus] ?? a.allergyStatus, allergyStatusText[b.allergyStatus] ?? b.allergyStatus);
    if (!sameValue(a.allergies, b.allergies)) {
      const id = (x: Allergy) => x.allergyId;
      row(
        "allergies",
        <ItemList items={a.allergies} other={b.allergies} idOf={id} text={allergyText} side="before" />,
        <ItemList items={b.allergies} other={a.allergies} idOf={id} text={allergyText} side="after" />,
      );
    }
    if (!sameValue(a.alerts, b.alerts)) {
      const id = (x: ClinicalAlert) => x.alertId;
      row(
        "alerts",
        <ItemList items={a.alerts} other={b.alerts} idOf={id} text={alertText} side="before" />,
        <ItemList items={b.alerts} other={a.alerts} idOf={id} text={alertText} side="after" />,
      );
    }
    return rows;
  });
}
