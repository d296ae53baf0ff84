"use client";
import { useInfiniteQuery } from "@tanstack/react-query";
import type { inferRouterInputs, inferRouterOutputs } from "@trpc/server";
import Link from "next/link";
import { useState, type FormEvent, type ReactNode } from "react";
import type { AppRouter } from "@/server/api/root";
import { LoadMore, TableHead } from "../DataTable";
import { formatInstant } from "../format";
import { EmptyState, ErrorState, Loading, type SkeletonLine } from "../States";
import { useTRPC } from "../trpc";
import { fromLocalInput } from "./format";

type Filters = { patientId?: string; userId?: string; from?: Date; to?: Date };
type AccessLogInput = inferRouterInputs<AppRouter>["audit"]["accessLog"];
type AccessRow = inferRouterOutputs<AppRouter>["audit"]["accessLog"]["rows"][number];

function text(value: FormDataEntryValue | null): string | undefined {
  return typeof value === "string" && value.trim() !== "" ? value.trim() : undefined;
}

const when = new Intl.DateTimeFormat("en-GB", { dateStyle: "medium", timeStyle: "medium" });

export function AccessLogBrowser() {
  const [filters, setFilters] = useState<Filters>({});

  function apply(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setFilters({
      patientId: text(form.get("patientId")),
      userId: text(form.get("userId")),
      from: fromLocalInput(text(form.get("from"))),
      to: fromLocalInput(text(form.get("to"))),
    });
  }

  return (
    <>
      <section className="panel" aria-labelledby="filters-title">
        <h2 id="filters-title">Filter</h2>
        <form className="row" onSubmit={apply} role="search" aria-label="Access log filters">
          <div className="field">
            <label htmlFor="patientId">Patient id</label>
            <input id="patientId" name="patientId" maxLength={100} placeholder="any patient" />
          </div>
          <div className="field">
            <label htmlFor="userId">User id</label>
            <input id="userId" name="userId" maxLength={100} placeholder="any user" />
          </div>
          <div className="field">
            <label htmlFor="from">From</label>
            <input id="from" name="from" type="datetime-local" />
          </div>
          <div className="field">
            <label htmlFor="to">Until</label>
            <input id="to" name="to" type="datetime-local" />
          </div>
          <div className="actions">
            <button type="submit">Apply</button>
            <button type="reset" className="secondary" onClick={() => setFilters({})}>
              Clear
            </button>
          </div>
        </form>
      </section>

      <section className="panel" aria-labelledby="log-title" data-testid="access-log">
        <h2 id="log-title">Read access</h2>
        <Reads
          input={{ ...filters, limit: 50 }}
          loadingLabel="Loading the access log"
          lines={["90%", "80%", "85%"]}
          empty={<>No reads recorded{Object.values(filters).some(Boolean) ? " for this filter" : " yet"}.</>}
          className="data"
          columns={["When", "Who", "Patient", "Through", "Request"]}
          row={(row) => (
            <tr key={row.id}>
              <td>
                <time dateTime={row.accessedAt.toISOString()}>{when.format(row.accessedAt)}</time>
              </td>
              <td>
                {row.userName ?? <span className="muted">unknown user</span>}
                {row.userEmail ? <div className="muted">{row.userEmail}</div> : null}
                <div>
                  <code className="muted">{row.userId}</code>
                </div>
              </td>
              <td>
                <Link href={`/audit/patients/${row.patientId}`} className="mono" title="Timeline and time travel of this patient">
                  {row.patientId}
                </Link>
              </td>
              <td>
                <code>{row.procedure}</code>
              </td>
              <td>
                <code className="muted">{row.correlationId}</code>
              </td>
            </tr>
          )}
        />
      </section>
    </>
  );
}

/** One chart's readers, newest first: the access log filtered by patient. */
export function ChartReaders({ patientId }: { patientId: string }) {
  return (
    <section className="panel" aria-labelledby="readers-title" data-testid="chart-readers">
      <div className="panel-head">
        <h2 id="readers-title">Who viewed this chart</h2>
        <span className="muted small">Newest first · includes your own reads on this page</span>
      </div>
      <Reads
        input={{ patientId, limit: 20 }}
        loadingLabel="Loading who viewed this chart"
        lines={["85%", "70%"]}
        empty="Nobody has read this chart yet."
        className="data dense"
        columns={["When", "Who", "Through", "Request"]}
        row={(row) => (
          <tr key={row.id} data-testid="chart-reader" data-procedure={row.procedure}>
            <td className="nowrap">
              <time dateTime={row.accessedAt.toISOString()}>{formatInstant(row.accessedAt)}</time>
            </td>
            <td>
              {row.userName ?? <span className="muted">unknown user</span>}
              {row.userEmail ? <span className="muted small"> · {row.userEmail}</span> : null}
            </td>
            <td>
              <code>{row.procedure}</code>
            </td>
            <td>
              <Link href={`/audit/events?correlation=${encodeURIComponent(row.correlationId)}`} className="mono muted" title="Events written in this request, if any">
                {row.correlationId.length > 13 ? `${row.correlationId.slice(0, 13)}…` : row.correlationId}
              </Link>
            </td>
          </tr>
        )}
      />
    </section>
  );
}

/** The access log's reads for `input`, newest first, a page at a time: its loading, failure and empty states, then the table. */
function Reads(props: {
  input: Omit<AccessLogInput, "cursor">;
  loadingLabel: string;
  lines: readonly SkeletonLine[];
  empty: ReactNode;
  className: string;
  columns: readonly string[];
  row: (row: AccessRow) => ReactNode;
}) {
  const trpc = useTRPC();
  const log = useInfiniteQuery(trpc.audit.accessLog.infiniteQueryOptions(props.input, { getNextPageParam: (page) => page.nextCursor ?? undefined }));
  const rows = log.data?.pages.flatMap((p) => p.rows) ?? [];
  if (log.isPending) return <Loading label={props.loadingLabel} lines={props.lines} />;
  if (log.isError) return <ErrorState>The access log could not be loaded: {log.error.message}</ErrorState>;
  if (rows.length === 0) return <EmptyState role="status">{props.empty}</EmptyState>;
  return (
    <>
      <table className={props.className}>
        <TableHead columns={props.columns} />
        <tbody>{rows.map(props.row)}</tbody>
      </table>
      <LoadMore hasMore={log.hasNextPage} loading={log.isFetchingNextPage} onMore={() => void log.fetchNextPage()} label="Load older reads" />
    </>
  );
}
