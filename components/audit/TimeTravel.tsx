"use client";
// Bitemporal time travel over one patient's record. Two axes, labelled: "as recorded at" (what
// the system showed at that instant) and "as it happened by" (clinical time, facts entered later
// included), or both ("what did we know at R about T"). A scrubber steps through the record's
// events (each event a tick), pickers take an instant in the reader's time zone, and any two
// moments can be compared field by field with the events that made the difference.
import { activeAlerts, activeAllergies, emptySafety, type PatientSafety } from "@/shared/clinical/safety";
import { keepPreviousData, useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useEffect, useState, type FormEvent, type ReactNode } from "react";
import { TableHead } from "../DataTable";
import { DateTime } from "../DateTime";
import { demographicLabels, eventTitle, formatValue, label, statusBadgeClass } from "../format";
import { ErrorState, Loading } from "../States";
import { useTRPC } from "../trpc";
import { errorText, fromLocalInput, sameValue, toLocalInput, zoneCaption, type RecordAsOf, type RecordDiffData, type RecordTicks } from "./format";
import { diffRows } from "./DiffValues";
import { useHydrated } from "./useHydrated";

const fields = ["givenName", "familyName", "dateOfBirth", "sex", "email", "phone", "address", "mrn"] as const;

export type Axis = "recorded" | "happened" | "both";
export type Moment = { recordedAt?: Date; happenedBy?: Date };

/** What the screens call the record's encounters and orders, by id. */
export type RecordNames = {
  encounters: Record<string, { encounterType: string; startedAt: Date }>;
  orders: Record<string, { kind: string; description: string }>;
};

export const axisOf = (m: Moment | null): Axis => (m?.recordedAt && m.happenedBy ? "both" : m?.happenedBy ? "happened" : "recorded");

const axisText: Record<Axis, { title: string; hint: string }> = {
  recorded: { title: "As recorded at", hint: "what the system showed at that instant: a fact entered late appears from when it was entered (the moment its change was written, moments before it was saved and others could see it)" },
  happened: { title: "As it happened by", hint: "clinical time: every fact that occurred by then, including those entered later" },
  both: { title: "As recorded at … about …", hint: "what the system had recorded by the first instant about what had happened by the second" },
};

export function momentText(m: Moment): string {
  const parts = [];
  if (m.recordedAt) parts.push(`recorded at ${m.recordedAt.toISOString()}`);
  if (m.happenedBy) parts.push(`happened by ${m.happenedBy.toISOString()}`);
  return parts.join(", ") || "now";
}

export function TimeTravel({
  patientId,
  moment,
  onTravel,
  names,
}: {
  patientId: string;
  moment: Moment | null;
  onTravel: (to: Moment | null) => void;
  names: RecordNames | undefined;
}) {
  // The moment shown says its axis; with none shown yet, the one picked.
  const [picked, setPicked] = useState<Axis>("recorded");
  const axis = moment ? axisOf(moment) : picked;
  const [error, setError] = useState<string | null>(null);
  const hydrated = useHydrated();

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const recordedAt = axis !== "happened" ? fromLocalInput(String(form.get("recordedAt") ?? ""), moment?.recordedAt) : undefined;
    const happenedBy = axis !== "recorded" ? fromLocalInput(String(form.get("happenedBy") ?? ""), moment?.happenedBy) : undefined;
    if ((axis !== "happened" && !recordedAt) || (axis !== "recorded" && !happenedBy)) {
      setError("Enter a date and time.");
      return;
    }
    setError(null);
    onTravel({ recordedAt, happenedBy });
  }

  function changeAxis(next: Axis) {
    setPicked(next);
    if (!moment) return;
    // Keep the instant when moving it to the other axis.
    const at = moment.recordedAt ?? moment.happenedBy!;
    onTravel(next === "recorded" ? { recordedAt: at } : next === "happened" ? { happenedBy: at } : { recordedAt: moment.recordedAt ?? at, happenedBy: moment.happenedBy ?? at });
  }

  // The offset in force at the moment shown (across a change of clocks it differs from today's).
  const zone = hydrated ? zoneCaption(moment?.recordedAt ?? moment?.happenedBy ?? new Date()) : "local time";
  return (
    <section className="panel time-travel" id="time-travel" aria-labelledby="tt-title" data-testid="time-travel">
      <h2 id="tt-title">Time travel</h2>
      <fieldset className="tt-axes">
        <legend>Time axis</legend>
        {(Object.keys(axisText) as Axis[]).map((a) => (
          <label key={a} className="tt-axis" title={axisText[a].hint}>
            <input type="radio" name="tt-axis" value={a} checked={axis === a} onChange={() => changeAxis(a)} /> {axisText[a].title}
          </label>
        ))}
      </fieldset>
      <form className="tt-form" onSubmit={submit} key={`${hydrated}-${axis}-${moment ? momentText(moment) : "none"}`}>
        {axis !== "happened" ? (
          <div className="field">
            <label htmlFor="tt-as-of">As recorded at</label>
            <input
              id="tt-as-of"
              name="recordedAt"
              type="datetime-local"
              step="0.001"
              defaultValue={moment?.recordedAt && hydrated ? toLocalInput(moment.recordedAt) : ""}
              aria-describedby={`tt-hint${error ? " tt-error" : ""}`}
              aria-invalid={error ? true : undefined}
            />
          </div>
        ) : null}
        {axis !== "recorded" ? (
          <div className="field">
            <label htmlFor="tt-happened">As it happened by</label>
            <input
              id="tt-happened"
              name="happenedBy"
              type="datetime-local"
              step="0.001"
              defaultValue={moment?.happenedBy && hydrated ? toLocalInput(moment.happenedBy) : ""}
              aria-describedby={`tt-hint${error ? " tt-error" : ""}`}
              aria-invalid={error ? true : undefined}
            />
          </div>
        ) : null}
        <div className="actions">
          <button type="submit">Show</button>
          {moment ? (
            <button type="button" className="secondary" onClick={() => onTravel(null)}>
              Back to now
            </button>
          ) : null}
        </div>
        {error ? (
          <span id="tt-error" className="error" role="alert">
            {error}
          </span>
        ) : null}
      </form>
      <p id="tt-hint" className="muted small">
        Times in <strong data-testid="tt-zone">{zone}</strong>, to the millisecond. {axisText[axis].title}: {axisText[axis].hint}.
      </p>
      <Scrubber patientId={patientId} axis={axis} moment={moment} onTravel={onTravel} names={names} />
      {moment ? (
        <AsOf patientId={patientId} moment={moment} />
      ) : (
        <div className="state small" role="status">
          Pick an instant, drag the scrubber, or choose “View as of here” on an event in the timeline.
        </div>
      )}
      <Compare patientId={patientId} moment={moment} names={names} />
    </section>
  );
}

// ---- the scrubber ------------------------------------------------------------------------------

function streamName(streamId: string, names: RecordNames | undefined): string {
  const dash = streamId.indexOf("-");
  const kind = streamId.slice(0, dash);
  const id = streamId.slice(dash + 1);
  if (kind === "encounter") {
    const e = names?.encounters[id];
    return e ? `Encounter · ${label(e.encounterType)}` : "Encounter";
  }
  if (kind === "order") {
    const o = names?.orders[id];
    return o ? `Order · ${o.description}` : "Order";
  }
  return "Patient";
}

function Scrubber({
  patientId,
  axis,
  moment,
  onTravel,
  names,
}: {
  patientId: string;
  axis: Axis;
  moment: Moment | null;
  onTravel: (to: Moment | null) => void;
  names: RecordNames | undefined;
}) {
  const trpc = useTRPC();
  const [scope, setScope] = useState("");
  const tickAxis = axis === "recorded" ? "recorded" : "happened";
  const ticks = useQuery(
    trpc.audit.recordTicks.queryOptions({ patientId, axis: tickAxis, streamId: scope || undefined }, { placeholderData: keepPreviousData }),
  );
  const list: RecordTicks["ticks"] = ticks.data?.ticks ?? [];
  const timeOf = (t: RecordTicks["ticks"][number]) => (tickAxis === "recorded" ? t.recordedAt : t.occurredAt);
  const at = tickAxis === "recorded" ? moment?.recordedAt : moment?.happenedBy;
  // The last tick at or before the moment shown.
  const current = at ? list.reduce((found, t, i) => (timeOf(t).getTime() <= at.getTime() ? i : found), -1) : list.length - 1;
  const [dragged, setDragged] = useState<number | null>(null);
  const index = dragged ?? current;

  useEffect(() => {
    if (dragged === null) return;
    const tick = list[dragged];
    if (!tick) return;
    // Follow the drag, but ask the server once the thumb rests.
    const timer = setTimeout(() => {
      const instant = timeOf(tick);
      onTravel(axis === "recorded" ? { recordedAt: instant } : axis === "happened" ? { happenedBy: instant } : { recordedAt: moment?.recordedAt ?? new Date(), happenedBy: instant });
      setDragged(null);
    }, 200);
    return () => clearTimeout(timer);
    // eslint-disable-next-line react-hooks/exhaustive-deps -- the drag alone starts the timer
  }, [dragged]);

  const tick = list[index];
  const streams = names ? [...Object.keys(names.encounters).map((id) => `encounter-${id}`), ...Object.keys(names.orders).map((id) => `order-${id}`)] : [];
  return (
    <div className="tt-scrubber" data-testid="tt-scrubber">
      <div className="tt-scrubber-head">
        <label htmlFor="tt-scrub">
          Versions {tickAxis === "recorded" ? "in recording order" : "in clinical order"} ({list.length}
          {ticks.data?.truncated ? ", the latest" : ""})
        </label>
        <select aria-label="Versions of" value={scope} onChange={(e) => setScope(e.target.value)}>
          <option value="">Whole record</option>
          <option value={`patient-${patientId}`}>Patient (demographics)</option>
          {streams.map((s) => (
            <option key={s} value={s}>
              {streamName(s, names)}
            </option>
          ))}
        </select>
      </div>
      {ticks.isError ? (
        <p className="error small">The versions could not be loaded: {errorText(ticks.error)}</p>
      ) : list.length === 0 ? (
        <p className="muted small">{ticks.isPending ? "Loading versions…" : "No events."}</p>
      ) : (
        <>
          <input
            id="tt-scrub"
            type="range"
            min={0}
            max={list.length - 1}
            step={1}
            value={Math.max(0, index)}
            onChange={(e) => setDragged(Number(e.target.value))}
            aria-valuetext={tick ? `${index + 1} of ${list.length}: ${eventTitle(tick.type)}, ${timeOf(tick).toISOString()}` : undefined}
            list="tt-ticks"
          />
          <datalist id="tt-ticks">
            {list.map((t, i) => (
              <option key={t.eventId} value={i} />
            ))}
          </datalist>
          {tick ? (
            <p className="small tt-tick" data-testid="tt-tick">
              {index + 1} of {list.length}: <strong>{eventTitle(tick.type)}</strong> · {streamName(tick.streamId, names)} v{tick.version} ·{" "}
              {tickAxis === "recorded" ? "recorded" : "happened"} <DateTime value={timeOf(tick)} precision="millisecond" />
              {index < 0 ? " (before the first event)" : null}
            </p>
          ) : (
            <p className="small muted">Before the first event.</p>
          )}
        </>
      )}
    </div>
  );
}

// ---- the record at a moment --------------------------------------------------------------------

function AsOf({ patientId, moment }: { patientId: string; moment: Moment }) {
  const trpc = useTRPC();
  const record = useQuery(trpc.audit.recordAt.queryOptions({ patientId, moment }, { placeholderData: keepPreviousData }));
  if (record.isPending) return <Loading label="Loading the record as of then" lines={["70%", "50%", "60%"]} />;
  if (record.isError) {
    return <ErrorState onRetry={() => void record.refetch()}>The record as of then could not be loaded: {errorText(record.error)}</ErrorState>;
  }
  const r = record.data;
  const stale = record.isPlaceholderData;
  return (
    <div className={stale ? "stale" : undefined} aria-busy={stale} data-testid="as-of" data-as-of={r.asOf?.toISOString() ?? ""}>
      <p className="as-of-line" role="status">
        {r.moment.recordedAt ? (
          <>
            As recorded at <DateTime value={r.moment.recordedAt} precision="millisecond" className="mono-nums" />
          </>
        ) : null}
        {r.moment.recordedAt && r.moment.happenedBy ? ", about what " : null}
        {r.moment.happenedBy ? (
          <>
            {r.moment.recordedAt ? "had happened by" : "As it happened by"} <DateTime value={r.moment.happenedBy} precision="millisecond" className="mono-nums" />
          </>
        ) : null}
        {r.patient ? (
          <>
            {" "}
            · patient version {r.patient.version} of {r.patient.currentVersion}{" "}
            {r.patient.version === r.patient.currentVersion && r.patient.eventsApplied === r.patient.currentVersion ? (
              <span className="badge ok">current</span>
            ) : (
              <span className="badge warn">earlier</span>
            )}
          </>
        ) : null}
      </p>
      {r.patient ? <SafetyAsOf record={r} /> : null}
      {r.patient ? (
        <Demographics record={r} />
      ) : (
        <div className="state">Not registered yet at this moment: nothing of this record {r.moment.happenedBy ? "had happened" : "had been recorded"}.</div>
      )}
      <Encounters record={r} />
      <Orders record={r} />
      {r.laterEncounters + r.laterOrders > 0 ? (
        <p className="muted small">
          Not yet in the record at this moment, so not shown: {r.laterEncounters} encounter{r.laterEncounters === 1 ? "" : "s"}, {r.laterOrders} order
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
      <p className="muted small">{changed === 0 ? "Same as now." : `${changed} field${changed === 1 ? " differs" : "s differ"} from now (highlighted).`}</p>
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

const show = (field: string, value: unknown) => (field === "sex" && typeof value === "string" ? label(value) : formatValue(value));

function Encounters({ record }: { record: RecordAsOf }) {
  return (
    <AsOfList
      title="Encounters"
      testId="as-of-encounters"
      items={record.encounters}
      itemKey={(state) => state.encounterId}
      describe={(state) => (
        <>
          {label(state.encounterType)} · <DateTime value={state.startedAt} precision="minute" />
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
        <p className="muted small">None by then.</p>
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

// ---- comparing two moments ---------------------------------------------------------------------

function MomentFields({ side, initial, hydrated }: { side: "a" | "b"; initial: Moment | null; hydrated: boolean }) {
  const name = side === "a" ? "First moment" : "Second moment";
  return (
    <fieldset className="tt-moment" data-testid={`compare-${side}`}>
      <legend>{name}</legend>
      <div className="field">
        <label htmlFor={`cmp-${side}-recorded`}>As recorded at</label>
        <input
          id={`cmp-${side}-recorded`}
          name={`${side}Recorded`}
          type="datetime-local"
          step="0.001"
          defaultValue={initial?.recordedAt && hydrated ? toLocalInput(initial.recordedAt) : ""}
        />
      </div>
      <div className="field">
        <label htmlFor={`cmp-${side}-happened`}>As it happened by</label>
        <input
          id={`cmp-${side}-happened`}
          name={`${side}Happened`}
          type="datetime-local"
          step="0.001"
          defaultValue={initial?.happenedBy && hydrated ? toLocalInput(initial.happenedBy) : ""}
        />
      </div>
    </fieldset>
  );
}

function Compare({ patientId, moment, names }: { patientId: string; moment: Moment | null; names: RecordNames | undefined }) {
  const hydrated = useHydrated();
  const [pair, setPair] = useState<{ a: Moment; b: Moment } | null>(null);

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const read = (side: "a" | "b"): Moment => ({
      recordedAt: fromLocalInput(String(form.get(`${side}Recorded`) ?? ""), side === "a" ? moment?.recordedAt : undefined),
      happenedBy: fromLocalInput(String(form.get(`${side}Happened`) ?? ""), side === "a" ? moment?.happenedBy : undefined),
    });
    setPair({ a: read("a"), b: read("b") });
  }

  return (
    <section className="tt-compare" aria-labelledby="cmp-title" data-testid="compare">
      <h3 id="cmp-title" className="subhead">
        Compare two moments
      </h3>
      <p className="muted small">Leave a time empty for “now” on that axis. The first moment starts as the one shown above.</p>
      <form onSubmit={submit} className="tt-compare-form" key={`${hydrated}-${moment ? momentText(moment) : "none"}`}>
        <MomentFields side="a" initial={moment} hydrated={hydrated} />
        <MomentFields side="b" initial={null} hydrated={hydrated} />
        <div className="actions">
          <button type="submit">Compare</button>
        </div>
      </form>
      {pair ? <Diff patientId={patientId} a={pair.a} b={pair.b} names={names} /> : null}
    </section>
  );
}

function recordTitle(change: RecordDiffData["changes"][number], names: RecordNames | undefined): string {
  if (change.kind === "patient") return "Demographics";
  return streamName(change.streamId, names);
}

function Diff({ patientId, a, b, names }: { patientId: string; a: Moment; b: Moment; names: RecordNames | undefined }) {
  const trpc = useTRPC();
  const diff = useQuery(trpc.audit.recordDiff.queryOptions({ patientId, a, b }));
  if (diff.isPending) return <Loading label="Comparing" lines={["60%", "40%"]} />;
  if (diff.isError) return <ErrorState onRetry={() => void diff.refetch()}>The comparison failed: {errorText(diff.error)}</ErrorState>;
  const { changes, users } = diff.data;
  if (changes.length === 0) {
    return (
      <div className="state small" role="status" data-testid="diff-none">
        No differences: the record is the same at both moments.
      </div>
    );
  }
  return (
    <div data-testid="diff">
      {changes.map((change) => (
        <div key={change.streamId} className="diff-record" data-testid="diff-record" data-kind={change.kind}>
          <h4>
            {recordTitle(change, names)} <span className={change.change === "changed" ? "badge warn" : change.change === "added" ? "badge ok" : "badge bad"}>{change.change}</span>
          </h4>
          <table className="data dense diff-table">
            <TableHead columns={["Field", "First moment", "Second moment", "Changed by"]} />
            <tbody>
              {diffRows(change.fields, { users, encounters: names?.encounters ?? {} }, change.id).map((f) => (
                <tr key={f.key} data-field={f.key} data-change={f.change}>
                  <th scope="row">
                    {f.name} <span className="muted small">({f.change})</span>
                  </th>
                  <td className="diff-before">{f.before}</td>
                  <td className="diff-after">{f.after}</td>
                  <td className="small">
                    {f.events.length === 0 ? (
                      <span className="muted">—</span>
                    ) : (
                      <ul className="plain">
                        {f.events.map((e) => (
                          <li key={e.eventId}>
                            <Link href={`/audit/events/${e.eventId}`}>{eventTitle(e.type)}</Link> v{e.version} by {users[e.userId] ?? e.userId}, happened{" "}
                            <DateTime value={e.occurredAt} precision="minute" />, recorded <DateTime value={e.recordedAt} precision="minute" />
                            <span className="muted"> ({e.inMoment === "b" ? "second moment only" : "first moment only"})</span>
                          </li>
                        ))}
                      </ul>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ))}
    </div>
  );
}
