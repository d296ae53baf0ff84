"use client";
// One patient's record for compliance: the timeline of every change (who, when, why), time travel
// on both time axes (the moment lives in the URL: ?asOf=ISO for "as recorded at", ?happenedBy=ISO
// for "as it happened by", both for both), and who viewed the chart.
import { DateTime } from "../DateTime";
import { keepPreviousData, useInfiniteQuery, useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { EventSummary } from "../EventSummary";
import { demographicLabels, eventTitle, formatInstant, formatSeconds, label } from "../format";
import { ErrorState, LoadOlderRow, Loading } from "../States";
import { useTRPC, useTRPCClient } from "../trpc";
import { ChartReaders } from "./AccessLogBrowser";
import { errorText, shortId, type TimelineData, type TimelineItem } from "./format";
import { EventTypeOptions } from "./EventTypeOptions";
import { ExportMenu } from "./ExportMenu";
import { TimeTravel, type Moment } from "./TimeTravel";
import { oneOf, textParam } from "./urlState";
import { demographicFields, type DemographicField } from "../../shared/clinical/patients";

const PAGE = 25;

function parseAsOf(value: string | null): Date | null {
  if (!value) return null;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d;
}

export function PatientAudit({ patientId }: { patientId: string }) {
  const trpc = useTRPC();
  const params = useSearchParams();
  const router = useRouter();
  const pathname = usePathname();
  const asOf = parseAsOf(params.get("asOf"));
  const happenedBy = parseAsOf(params.get("happenedBy"));
  const moment: Moment | null = asOf || happenedBy ? { ...(asOf ? { recordedAt: asOf } : {}), ...(happenedBy ? { happenedBy } : {}) } : null;
  // The timeline's filter is in the URL with the moment (Back from an event, a reload, a shared
  // link); a damaged value reads as "all events".
  const type = textParam(params.get("type"), 100)?.match(/^[A-Za-z][A-Za-z0-9_.]{0,99}$/)?.[0] ?? "";
  const field = oneOf(params.get("field"), demographicFields) ?? "";
  function setQuery(key: string, value: string | null) {
    const query = new URLSearchParams(params.toString());
    if (value) query.set(key, value);
    else query.delete(key);
    router.replace(query.size ? `${pathname}?${query.toString()}` : pathname, { scroll: false });
  }
  // "Changes to this field only": the server picks the events that set it, for the screen and its extract alike.
  const eventTypes = !field && type ? [type] : undefined;
  const fieldFilter = field || undefined;
  const head = useQuery(trpc.audit.patientTimeline.queryOptions({ patientId, eventTypes, field: fieldFilter, limit: PAGE }, { placeholderData: keepPreviousData }));
  const options = useQuery(trpc.audit.filterOptions.queryOptions(undefined, { staleTime: 5 * 60_000 }));

  function travel(to: Moment | null) {
    const query = new URLSearchParams(params.toString());
    query.delete("asOf");
    query.delete("happenedBy");
    if (to?.recordedAt) query.set("asOf", to.recordedAt.toISOString());
    if (to?.happenedBy) query.set("happenedBy", to.happenedBy.toISOString());
    router.replace(query.size ? `${pathname}?${query.toString()}` : pathname, { scroll: false });
    // Side by side the panel is always in view; stacked (narrow screens) it is below the timeline.
    if (to) document.getElementById("time-travel")?.scrollIntoView({ block: "nearest", behavior: "smooth" });
  }

  if (head.isError && !head.data) {
    const notFound = (head.error as { data?: { code?: string } | null }).data?.code === "NOT_FOUND";
    return (
      <>
        <Crumbs />
        <h1>{notFound ? "No such patient" : "Patient"}</h1>
        <ErrorState onRetry={notFound ? undefined : () => void head.refetch()}>
          {notFound ? `No patient has the id ${patientId}.` : `The record could not be loaded: ${errorText(head.error)}`}
        </ErrorState>
      </>
    );
  }

  const patient = head.data?.patient;
  return (
    <>
      <Crumbs />
      {patient ? (
        <div className="chart-head">
          <div>
            <h1>{patient.givenName ? `${patient.familyName}, ${patient.givenName}` : patient.familyName}</h1>
            <dl className="inline-facts">
              <div>
                <dt>MRN</dt>
                <dd className="mono">{patient.mrn}</dd>
              </div>
              <div>
                <dt>Born</dt>
                <dd>{patient.dateOfBirth}</dd>
              </div>
              <div>
                <dt>Patient record</dt>
                <dd>version {patient.version}</dd>
              </div>
              <div>
                <dt>Id</dt>
                <dd className="mono">{patient.patientId}</dd>
              </div>
            </dl>
          </div>
          <ReportLink patientId={patientId} />
        </div>
      ) : (
        <Loading label="Loading the patient" lines={[{ width: "30%", height: 26 }, "50%"]} />
      )}

      <div className="audit-patient-grid">
        <section className="panel" aria-labelledby="timeline-title" data-testid="timeline">
          <div className="panel-head">
            <h2 id="timeline-title">Timeline</h2>
            <div className="inline-field">
              <label htmlFor="timeline-type">Show</label>
              <select id="timeline-type" value={type} disabled={field !== ""} onChange={(e) => setQuery("type", e.target.value)}>
                <option value="">All events</option>
                <EventTypeOptions groups={options.data?.eventGroups} />
              </select>
            </div>
            <div className="inline-field">
              <label htmlFor="timeline-field">Changes to</label>
              <select id="timeline-field" value={field} onChange={(e) => setQuery("field", e.target.value)}>
                <option value="">Any field</option>
                {demographicFields.map((f) => (
                  <option key={f} value={f}>
                    {demographicLabels[f]} only
                  </option>
                ))}
              </select>
            </div>
          </div>
          <div className="panel-tools">
            <ExportMenu view="timeline" filter={{ patientId, eventTypes, field: fieldFilter }} />
          </div>
          <p className="muted small">
            Every change to the patient, their encounters and orders, newest first. “View as of here” shows the record as it was recorded
            right after that event.
          </p>
          <Timeline key={`${type}|${field}`} patientId={patientId} eventTypes={eventTypes} field={fieldFilter} asOf={asOf} onTravel={(at) => travel({ recordedAt: at })} />
        </section>

        <TimeTravel patientId={patientId} moment={moment} onTravel={travel} names={head.data} />
      </div>

      <ChartReaders patientId={patientId} />
    </>
  );
}

function Crumbs() {
  return (
    <nav className="crumbs" aria-label="Breadcrumb">
      <Link href="/audit">Audit</Link> › <Link href="/audit/patients">Patients</Link> › Record
    </nav>
  );
}

function ReportLink({ patientId }: { patientId: string }) {
  return (
    <Link href={`/audit/patients/${patientId}/report`} className="button secondary small" data-testid="report-link">
      Printable audit report
    </Link>
  );
}

type TimelineProps = { patientId: string; eventTypes?: string[]; field?: DemographicField; asOf: Date | null; onTravel: (to: Date) => void };

function Timeline({ patientId, eventTypes, field, asOf, onTravel }: TimelineProps) {
  const trpc = useTRPC();
  const client = useTRPCClient();
  const input = { patientId, eventTypes, field, limit: PAGE };
  // One query for all the pages shown: a refetch re-reads them in order from the newest, each
  // cursor taken from the page just re-read. With a query per page, page 2 kept the cursor of the
  // first load, and events pushed off page 1 by newer ones vanished between the pages.
  const pages = useInfiniteQuery({
    queryKey: [...trpc.audit.patientTimeline.pathKey(), { input, type: "infinite" }],
    queryFn: ({ pageParam, signal }) => client.audit.patientTimeline.query({ ...input, before: pageParam }, { signal }),
    initialPageParam: undefined as number | undefined,
    getNextPageParam: (page) => page.nextBefore ?? undefined,
  });
  if (pages.isPending) {
    return (
      <ol className="events timeline" aria-label="Events, newest first">
        <li aria-busy="true" aria-label="Loading events" className="event">
          <div className="skeleton" style={{ width: "40%" }} />
          <div className="skeleton" style={{ width: "70%" }} />
          <div className="skeleton" style={{ width: "55%" }} />
        </li>
      </ol>
    );
  }
  if (pages.isError && !pages.data) {
    return (
      <ol className="events timeline" aria-label="Events, newest first">
        <li className="state error" role="alert">
          The timeline could not be loaded: {errorText(pages.error)}{" "}
          <button type="button" className="secondary small" onClick={() => void pages.refetch()}>
            Try again
          </button>
        </li>
      </ol>
    );
  }
  // Each page names the orders, encounters and allergies its own events refer to.
  const shown = pages.data.pages.flatMap((data) => data.items.map((item) => ({ item, data })));
  return (
    <ol className="events timeline" aria-label="Events, newest first">
      {pages.isRefetchError ? (
        <li className="state error" role="alert">
          The timeline could not be refreshed: {errorText(pages.error)}. The events below are as last loaded.{" "}
          <button type="button" className="secondary small" onClick={() => void pages.refetch()}>
            Try again
          </button>
        </li>
      ) : null}
      {shown.length === 0 ? (
        <li className="state" role="status">
          {field ? "No change to this field in the events loaded so far." : "No events of this type in the record."}
        </li>
      ) : null}
      {shown.map(({ item, data }) => (
        <TimelineEvent key={item.eventId} item={item} data={data} selected={asOf?.getTime() === item.recordedAt.getTime()} onTravel={onTravel} />
      ))}
      <LoadOlderRow pages={pages} errorText={errorText} />
    </ol>
  );
}

function recordLabel(item: TimelineItem, data: TimelineData): string {
  const data_ = item.data as Record<string, unknown>;
  if (item.aggregateType === "order") {
    const order = data.orders[String(data_.orderId)];
    return order ? `Order · ${order.description}` : `Order ${shortId(String(data_.orderId))}`;
  }
  if (item.aggregateType === "encounter") {
    const encounter = data.encounters[String(data_.encounterId)];
    return encounter ? `Encounter · ${label(encounter.encounterType)} ${formatSeconds(encounter.startedAt).slice(0, 10)}` : "Encounter";
  }
  return "Patient";
}

function TimelineEvent({ item, data, selected, onTravel }: { item: TimelineItem; data: TimelineData; selected: boolean; onTravel: (to: Date) => void }) {
  const occurredApart = Math.abs(item.occurredAt.getTime() - item.recordedAt.getTime()) > 60_000;
  const payload = (item.data ?? {}) as Record<string, unknown>;
  const order = item.type === "OrderStatusChanged" || item.type === "MedicationAllergyOverridden" ? data.orders[String(payload.orderId)] : undefined;
  const safetyName = data.safetyNames[String(payload.allergyId ?? payload.alertId ?? "")];
  return (
    <li className={`event${selected ? " selected" : ""}`} data-event-type={item.type} data-testid="timeline-event" aria-current={selected ? "true" : undefined}>
      <div className="event-head">
        <h3 className="event-title">{eventTitle(item.type)}</h3>
        <span className="muted small">
          {recordLabel(item, data)} · v{item.version}
        </span>
        <span className="event-actions">
          <button
            type="button"
            className="secondary small"
            onClick={() => onTravel(item.recordedAt)}
            aria-pressed={selected}
            aria-label={`View the record as of ${eventTitle(item.type).toLowerCase()}, recorded ${formatInstant(item.recordedAt)}`}
          >
            View as of here
          </button>
          <Link href={`/audit/events/${item.eventId}`} className="small">
            Details
          </Link>
        </span>
      </div>
      <p className="event-meta muted small">
        recorded{" "}
        <DateTime value={item.recordedAt} />
        {occurredApart ? (
          <>
            {" "}
            · occurred <DateTime value={item.occurredAt} precision="minute" />
          </>
        ) : null}{" "}
        · by{" "}
        <span className="event-who" title={`user id ${item.userId}`}>
          {item.userName ?? item.userId}
        </span>
      </p>
      <EventSummary type={item.type} data={item.data} orderName={order?.description} safetyName={safetyName} full undecodable={item.undecodable} />
    </li>
  );
}
