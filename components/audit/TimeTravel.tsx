"use client";
// The record as the system had recorded it at one instant: demographics, encounters and orders
// then, with what differs from today marked. Bitemporal: "as recorded at", not "as it happened".
import { activeAlerts, activeAllergies, emptySafety, type PatientSafety } from "@/shared/clinical/safety";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import { useState, type FormEvent, type ReactNode } from "react";
import { demographicLabels, formatDateTime, formatInstant, formatValue, label, statusBadgeClass } from "../format";
import { ErrorState, Loading } from "../States";
import { useTRPC } from "../trpc";
import { errorText, fromLocalInput, localZone, sameValue, toLocalInput, type RecordAsOf } from "./format";
import { useHydrated } from "./useHydrated";

const fields = ["givenName", "familyName", "dateOfBirth", "sex", "email", "phone", "address", "mrn"] as const;

export function TimeTravel({ patientId, asOf, onTravel }: { patientId: string; asOf: Date | null; onTravel: (to: Date | null) => void }) {
  const [error, setError] = useState<string | null>(null);
  const hydrated = useHydrated();

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const value = String(new FormData(event.currentTarget).get("asOf") ?? "");
    const at = fromLocalInput(value);
    if (!at) {
      setError("Enter a date and time.");
      return;
    }
    setError(null);
    onTravel(at);
  }

  return (
    <section className="panel time-travel" id="time-travel" aria-labelledby="tt-title" data-testid="time-travel">
      <h2 id="tt-title">Time travel</h2>
      <form className="tt-form" onSubmit={submit} key={`${hydrated}-${asOf?.toISOString() ?? "none"}`}>
        <div className="field">
          <label htmlFor="tt-as-of">As recorded at</label>
          <input
            id="tt-as-of"
            name="asOf"
            type="datetime-local"
            step="0.001"
            defaultValue={asOf && hydrated ? toLocalInput(asOf) : ""}
            aria-describedby={`tt-hint${error ? " tt-error" : ""}`}
            aria-invalid={error ? true : undefined}
          />
          {error ? (
            <span id="tt-error" className="error" role="alert">
              {error}
            </span>
          ) : null}
        </div>
        <div className="actions">
          <button type="submit">Show</button>
          {asOf ? (
            <button type="button" className="secondary" onClick={() => onTravel(null)}>
              Back to now
            </button>
          ) : null}
        </div>
      </form>
      <p id="tt-hint" className="muted small">
        What the system had <em>recorded</em> by that instant ({hydrated ? localZone() : "local time"}, to the millisecond), not when things happened clinically: a visit
        entered late appears from when it was entered.
      </p>
      {asOf ? (
        <AsOf patientId={patientId} asOf={asOf} />
      ) : (
        <div className="state small" role="status">
          Pick an instant, or choose “View as of here” on an event in the timeline.
        </div>
      )}
    </section>
  );
}

function AsOf({ patientId, asOf }: { patientId: string; asOf: Date }) {
  const trpc = useTRPC();
  const record = useQuery(trpc.audit.patientAsOf.queryOptions({ patientId, asOf }, { placeholderData: keepPreviousData }));
  if (record.isPending) return <Loading label="Loading the record as of then" lines={["70%", "50%", "60%"]} />;
  if (record.isError) {
    return <ErrorState onRetry={() => void record.refetch()}>The record as of then could not be loaded: {errorText(record.error)}</ErrorState>;
  }
  const r = record.data;
  const stale = record.isPlaceholderData;
  return (
    <div className={stale ? "stale" : undefined} aria-busy={stale} data-testid="as-of" data-as-of={r.asOf.toISOString()}>
      <p className="as-of-line" role="status">
        As recorded at <strong className="mono-nums">{formatInstant(r.asOf)}</strong>
        {r.patient ? (
          <>
            {" "}
            · patient version {r.patient.version} of {r.patient.currentVersion}{" "}
            {r.patient.version === r.patient.currentVersion ? <span className="badge ok">current</span> : <span className="badge warn">earlier</span>}
          </>
        ) : null}
      </p>
      {r.patient ? <SafetyAsOf record={r} /> : null}
      {r.patient ? <Demographics record={r} /> : <div className="state">Not registered yet at this instant: nothing of this record had been recorded.</div>}
      <Encounters record={r} />
      <Orders record={r} />
      {r.laterEncounters + r.laterOrders > 0 ? (
        <p className="muted small">
          Recorded after this instant, so not shown: {r.laterEncounters} encounter{r.laterEncounters === 1 ? "" : "s"}, {r.laterOrders} order
          {r.laterOrders === 1 ? "" : "s"}.
        </p>
      ) : null}
    </div>
  );
}

type AsOfRow = { key: string; name: string; then: ReactNode; now: ReactNode; differs: boolean };

/** Rows of the record then beside now, the ones that differ highlighted. */
function AsOfTable({ testId, what, rows }: { testId: string; what: string; rows: AsOfRow[] }) {
  return (
    <table className="data dense as-of-table" data-testid={testId}>
      <thead>
        <tr>
          <th scope="col">{what}</th>
          <th scope="col">Then</th>
          <th scope="col">Now</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={r.key} className={r.differs ? "differs" : undefined} data-field={r.key}>
            <th scope="row">{r.name}</th>
            <td className="then">
              {r.then}
              {r.differs ? <span className="sr-only"> (differs from now)</span> : null}
            </td>
            <td className={r.differs ? "now" : "now muted"}>{r.differs ? r.now : "same"}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function Demographics({ record }: { record: RecordAsOf }) {
  const then = record.patient!.state as Record<string, unknown>;
  const now = record.current as Record<string, unknown>;
  const rows = fields.map((f) => ({ key: f, name: demographicLabels[f] ?? f, then: show(f, then[f]), now: show(f, now[f]), differs: !sameValue(then[f], now[f]) }));
  const changed = rows.filter((r) => r.differs).length;
  return (
    <>
      <h3 className="subhead">Demographics</h3>
      <AsOfTable testId="as-of-demographics" what="Field" rows={rows} />
      <p className="muted small">{changed === 0 ? "Same as now." : `${changed} field${changed === 1 ? "" : "s"} differ from now (highlighted).`}</p>
    </>
  );
}

/** Allergies and alerts as they stood: part of the record like its demographics. */
function SafetyAsOf({ record }: { record: RecordAsOf }) {
  const safetyOf = (state: unknown): PatientSafety => (state as { safety?: PatientSafety }).safety ?? emptySafety();
  const then = safetyOf(record.patient!.state);
  const now = safetyOf(record.current);
  const allergies = (s: PatientSafety) => {
    const active = activeAllergies(s);
    if (active.length > 0) return active.map((a) => `${a.substance.text}${a.reaction ? ` (${a.reaction})` : ""}`).join(", ");
    return s.allergyStatus === "none_known" ? "No known allergies" : "Not recorded";
  };
  const alerts = (s: PatientSafety) => activeAlerts(s).map((a) => label(a.kind)).join(", ") || "None";
  const row = (key: string, name: string, of: (s: PatientSafety) => string) => ({ key, name, then: of(then), now: of(now), differs: of(then) !== of(now) });
  return (
    <>
      <h3 className="subhead">Allergies and alerts</h3>
      <AsOfTable testId="as-of-safety" what="What" rows={[row("allergies", "Allergies", allergies), row("alerts", "Alerts", alerts)]} />
    </>
  );
}

const show = (field: (typeof fields)[number], value: unknown) => (field === "sex" ? label(String(value)) : formatValue(value));

function Encounters({ record }: { record: RecordAsOf }) {
  return (
    <AsOfList
      title="Encounters"
      testId="as-of-encounters"
      items={record.encounters}
      itemKey={(state) => state.encounterId}
      describe={(state) => (
        <>
          {label(state.encounterType)} · {formatDateTime(state.startedAt)}
          {state.reason ? <span className="muted"> · {state.reason}</span> : null}
        </>
      )}
    />
  );
}

function Orders({ record }: { record: RecordAsOf }) {
  return (
    <AsOfList
      title="Orders"
      testId="as-of-orders"
      items={record.orders}
      itemKey={(state) => state.orderId}
      describe={(state) => (
        <>
          <span className="kind">{state.kind}</span> {state.details.description}
          {state.priority !== "routine" ? <span className="muted"> · {label(state.priority)}</span> : null}
        </>
      )}
    />
  );
}

type AsOfItem<S> = { state: S; version: number; currentVersion: number; currentStatus: string };

/** Records of one kind as they were then: what each was, its status then (and now, where it differs) and its version. */
function AsOfList<S extends { status: string }>(props: {
  title: string;
  testId: string;
  items: readonly AsOfItem<S>[];
  itemKey: (state: S) => string;
  describe: (state: S) => ReactNode;
}) {
  return (
    <>
      <h3 className="subhead">
        {props.title} then ({props.items.length})
      </h3>
      {props.items.length === 0 ? (
        <p className="muted small">None recorded by then.</p>
      ) : (
        <ul className="as-of-list" data-testid={props.testId}>
          {props.items.map(({ state, version, currentVersion, currentStatus }) => {
            const differs = currentStatus !== state.status;
            return (
              <li key={props.itemKey(state)} className={differs ? "differs" : undefined}>
                <span>{props.describe(state)}</span>
                <span className="as-of-status">
                  <span className={statusBadgeClass(state.status)}>{label(state.status)}</span>
                  {differs ? <span className="now-note">now {label(currentStatus)}</span> : null}{" "}
                  <span className="muted small">
                    v{version} of {currentVersion}
                  </span>
                </span>
              </li>
            );
          })}
        </ul>
      )}
    </>
  );
}
