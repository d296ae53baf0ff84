"use client";
// Order turnaround: what is overdue now, and how long orders take from placed to completed (or
// cancelled), as percentiles per kind and priority and per day, in the browser's time zone.
import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useState } from "react";
import { TableHead } from "@/components/DataTable";
import { ProjectionLag } from "@/components/ProjectionLag";
import { EmptyState, ErrorState, SkeletonTable } from "@/components/States";
import { useTRPC } from "@/components/trpc";
import { DateTime } from "@/components/DateTime";
import { label } from "@/components/format";
import { ClinicalNav } from "./ClinicalNav";
import { errorText } from "./errors";
import { priorityBadgeClass } from "./format";
import { formatMinutes, useBrowserTimeZone } from "./reportFormat";

const ranges = [7, 14, 30, 90] as const;

export function OrderTurnaround() {
  const trpc = useTRPC();
  const [days, setDays] = useState<number>(14);
  const timeZone = useBrowserTimeZone();
  // No polling: the overdue list names patients, and every load is a read in the access log.
  const report = useQuery({ ...trpc.reports.turnaround.queryOptions({ days, timeZone: timeZone ?? "UTC" }), enabled: timeZone !== null, refetchOnWindowFocus: false });
  const data = report.data;
  const thresholds = data?.thresholds ?? { stat: 60, urgent: 240, routine: 1440 };

  return (
    <>
      <ClinicalNav />
      <div className="page-head">
        <div>
          <h1>Order turnaround</h1>
          <p className="subtitle">
            How long orders take from placed to completed or cancelled, and which open orders are overdue now. Days are in {timeZone ?? "your time zone"}.
          </p>
        </div>
        <div className="stack">
          <label className="inline">
            Period{" "}
            <select value={days} onChange={(e) => setDays(Number(e.target.value))} aria-label="Period">
              {ranges.map((d) => (
                <option key={d} value={d}>
                  Last {d} days
                </option>
              ))}
            </select>
          </label>
          {data ? (
            <div className="actions">
              <ProjectionLag lag={data.lag} fetchedAt={report.dataUpdatedAt} />
              <button type="button" className="secondary small" onClick={() => void report.refetch()} disabled={report.isFetching}>
                {report.isFetching ? "Refreshing…" : "Refresh"}
              </button>
            </div>
          ) : null}
        </div>
      </div>

      {report.isError && !data ? (
        <ErrorState onRetry={() => void report.refetch()}>Could not load turnaround: {errorText(report.error)}</ErrorState>
      ) : null}

      <section className="panel" aria-labelledby="overdue-h">
        <div className="panel-head">
          <h2 id="overdue-h">Overdue now</h2>
        </div>
        <p className="small muted" data-testid="thresholds">
          An open order is overdue after {formatMinutes(thresholds.stat)} for STAT, {formatMinutes(thresholds.urgent)} for urgent and{" "}
          {formatMinutes(thresholds.routine)} for routine, counted from when it was placed (or from its scheduled time, when that is later).
        </p>
        {report.isPending ? (
          <SkeletonTable columns={7} rows={3} label="Loading overdue orders" />
        ) : data && data.overdue.length === 0 ? (
          <EmptyState testId="overdue-empty">No open order is past its threshold.</EmptyState>
        ) : data ? (
          <>
            <table className="data" data-testid="overdue-table">
              <TableHead columns={["Priority", "Kind", "Order", "Patient", "Status", "Placed", "Overdue by"]} />
              <tbody>
                {data.overdue.map((o) => (
                  <tr key={o.orderId}>
                    <td>
                      <span className={priorityBadgeClass(o.priority)}>{label(o.priority)}</span>
                    </td>
                    <td>{label(o.kind)}</td>
                    <td className="wrap">{o.description}</td>
                    <td className="wrap">
                      <Link href={`/patients/${o.patientId}`}>{o.patient ? `${o.patient.name} · ${o.patient.mrn}` : "Patient"}</Link>
                    </td>
                    <td>{label(o.status)}</td>
                    <td>
                      <DateTime value={o.placedAt} precision="minute" />
                    </td>
                    <td>
                      <strong>{formatMinutes(o.overdueMinutes)}</strong>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
            {data.overdueTruncated ? <p className="small muted">Showing the 100 furthest past their threshold.</p> : null}
          </>
        ) : null}
      </section>

      <section className="panel" aria-labelledby="summary-h">
        <div className="panel-head">
          <h2 id="summary-h">By kind and priority, last {days} days</h2>
        </div>
        {report.isPending ? (
          <SkeletonTable columns={8} rows={4} label="Loading turnaround" />
        ) : data && data.summary.length === 0 ? (
          <EmptyState testId="summary-empty">No orders were open or closed in this period.</EmptyState>
        ) : data ? (
          <table className="data" data-testid="summary-table">
            <TableHead columns={["Kind", "Priority", "Open", "Overdue", "Completed", "Median (p50)", "p90", "Cancelled"]} />
            <tbody>
              {data.summary.map((s) => (
                <tr key={`${s.kind}-${s.priority}`}>
                  <td>{label(s.kind)}</td>
                  <td>
                    <span className={priorityBadgeClass(s.priority)}>{label(s.priority)}</span>
                  </td>
                  <td>{s.open}</td>
                  <td>{s.overdue > 0 ? <strong className="text-bad">{s.overdue}</strong> : 0}</td>
                  <td>{s.completed}</td>
                  <td>{formatMinutes(s.p50Minutes)}</td>
                  <td>{formatMinutes(s.p90Minutes)}</td>
                  <td>{s.cancelled}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
      </section>

      <section className="panel" aria-labelledby="daily-h">
        <div className="panel-head">
          <h2 id="daily-h">Per day</h2>
        </div>
        <p className="small muted">
          Percentiles of each completed order&rsquo;s own time from placed to completed, on the day it completed; cancellations with the median time to cancel.
        </p>
        {report.isPending ? (
          <SkeletonTable columns={7} rows={5} label="Loading daily turnaround" />
        ) : data && data.daily.length === 0 ? (
          <EmptyState testId="daily-empty">No order was completed or cancelled in this period.</EmptyState>
        ) : data ? (
          <table className="data" data-testid="daily-table">
            <TableHead columns={["Day", "Kind", "Priority", "Completed", "Median (p50)", "p90", "Cancelled (median)"]} />
            <tbody>
              {data.daily.map((d) => (
                <tr key={`${d.day}-${d.kind}-${d.priority}`}>
                  <td>{d.day}</td>
                  <td>{label(d.kind)}</td>
                  <td>
                    <span className={priorityBadgeClass(d.priority)}>{label(d.priority)}</span>
                  </td>
                  <td>{d.completed}</td>
                  <td>{formatMinutes(d.p50Minutes)}</td>
                  <td>{formatMinutes(d.p90Minutes)}</td>
                  <td>
                    {d.cancelled}
                    {d.cancelled > 0 ? <span className="muted"> ({formatMinutes(d.cancelledP50Minutes)})</span> : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
      </section>
    </>
  );
}
