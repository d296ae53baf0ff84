"use client";
// A patient's audit report for paper or PDF: who the patient is, every change to the record (who,
// when it was recorded and when it happened, what, why), who looked at the chart, and the seal the
// log was signed with when the report was made. Print styles hide the console around it.
import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useState } from "react";
import { TableHead } from "../DataTable";
import { DateTime } from "../DateTime";
import { EventSummary } from "../EventSummary";
import { eventTitle, label } from "../format";
import { ErrorState, Loading } from "../States";
import { useTRPC } from "../trpc";
import { Readers } from "./AccessLogBrowser";
import { LatestSeal } from "./IntegrityPanel";
import { errorText, type TimelineData } from "./format";

const PAGE = 200;
/** A report stops at this many pages of events and says so; the extract has them all. */
const MAX_PAGES = 25;

export function PatientReport({ patientId }: { patientId: string }) {
  const trpc = useTRPC();
  const head = useQuery(trpc.audit.patientTimeline.queryOptions({ patientId, limit: PAGE }));
  const [generatedAt] = useState(() => new Date());
  if (head.isPending) return <Loading label="Preparing the report" lines={["40%", "70%", "60%"]} />;
  if (head.isError) return <ErrorState onRetry={() => void head.refetch()}>The report could not be prepared: {errorText(head.error)}</ErrorState>;
  const p = head.data.patient;
  return (
    <article className="audit-report" data-testid="audit-report">
      <div className="no-print report-actions">
        <Link href={`/audit/patients/${patientId}`}>← Back to the record</Link>
        <button type="button" onClick={() => window.print()}>
          Print or save as PDF
        </button>
      </div>
      <header>
        <h1>Audit report: {p.givenName ? `${p.familyName}, ${p.givenName}` : p.familyName}</h1>
        <dl className="facts">
          <dt>MRN</dt>
          <dd className="mono">{p.mrn}</dd>
          <dt>Born</dt>
          <dd>{p.dateOfBirth}</dd>
          <dt>Patient id</dt>
          <dd className="mono">{p.patientId}</dd>
          <dt>Report made</dt>
          <dd>
            <DateTime value={generatedAt} />
          </dd>
        </dl>
      </header>
      <section aria-labelledby="report-changes">
        <h2 id="report-changes">Every change to the record, newest first</h2>
        <table className="data dense report-table">
          <TableHead columns={["Recorded", "Happened", "What", "By", "Details"]} />
          <tbody>
            <ReportRows data={head.data} patientId={patientId} page={1} />
          </tbody>
        </table>
      </section>
      <Readers patientId={patientId} range={{}} title="Who has looked at this chart" />
      <LatestSeal compact />
    </article>
  );
}

function recordName(item: TimelineData["items"][number], data: TimelineData): string {
  const d = item.data as Record<string, unknown>;
  if (item.aggregateType === "order") return `Order · ${data.orders[String(d.orderId)]?.description ?? ""}`;
  if (item.aggregateType === "encounter") return `Encounter · ${label(data.encounters[String(d.encounterId)]?.encounterType ?? "")}`;
  return "Patient";
}

/** One page of rows, then the next page (fetched as soon as this one is in), up to MAX_PAGES. */
function ReportRows({ data, patientId, page }: { data: TimelineData; patientId: string; page: number }) {
  return (
    <>
      {data.items.map((item) => (
        <tr key={item.eventId} data-testid="report-event">
          <td className="nowrap">
            <DateTime value={item.recordedAt} />
          </td>
          <td className="nowrap">
            <DateTime value={item.occurredAt} precision="minute" />
          </td>
          <td>
            <strong>{eventTitle(item.type)}</strong>
            <div className="muted small">
              {recordName(item, data)} v{item.version}
            </div>
          </td>
          <td>{item.userName ?? item.userId}</td>
          <td>
            <EventSummary
              type={item.type}
              data={item.data}
              full
              undecodable={item.undecodable}
              orderName={data.orders[String((item.data as Record<string, unknown>).orderId)]?.description}
            />
          </td>
        </tr>
      ))}
      {data.nextBefore !== null ? (
        page < MAX_PAGES ? (
          <NextRows patientId={patientId} before={data.nextBefore} page={page + 1} />
        ) : (
          <tr>
            <td colSpan={5} className="muted">
              The report stops here ({MAX_PAGES * PAGE} events); the timeline extract (CSV, NDJSON, FHIR) has every event.
            </td>
          </tr>
        )
      ) : null}
    </>
  );
}

function NextRows({ patientId, before, page }: { patientId: string; before: number; page: number }) {
  const trpc = useTRPC();
  const next = useQuery(trpc.audit.patientTimeline.queryOptions({ patientId, before, limit: PAGE }));
  if (!next.data) {
    return (
      <tr>
        <td colSpan={5} className="muted">
          {next.isError ? `Older events could not be loaded: ${errorText(next.error)}` : "Loading older events…"}
        </td>
      </tr>
    );
  }
  return <ReportRows data={next.data} patientId={patientId} page={page} />;
}
