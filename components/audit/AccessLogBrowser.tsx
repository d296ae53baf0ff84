"use client";
import { useInfiniteQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useState, type FormEvent } from "react";
import { useTRPC } from "../trpc";
import { formatInstant } from "./format";

type Filters = { patientId?: string; userId?: string; from?: Date; to?: Date };

function toDate(value: FormDataEntryValue | null): Date | undefined {
  if (typeof value !== "string" || value === "") return undefined;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

function text(value: FormDataEntryValue | null): string | undefined {
  return typeof value === "string" && value.trim() !== "" ? value.trim() : undefined;
}

const when = new Intl.DateTimeFormat("en-GB", { dateStyle: "medium", timeStyle: "medium" });

export function AccessLogBrowser() {
  const trpc = useTRPC();
  const [filters, setFilters] = useState<Filters>({});
  const log = useInfiniteQuery(
    trpc.audit.accessLog.infiniteQueryOptions(
      { ...filters, limit: 50 },
      { getNextPageParam: (page) => page.nextCursor ?? undefined },
    ),
  );

  function apply(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setFilters({ patientId: text(form.get("patientId")), userId: text(form.get("userId")), from: toDate(form.get("from")), to: toDate(form.get("to")) });
  }

  const rows = log.data?.pages.flatMap((p) => p.rows) ?? [];

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
        {log.isPending ? (
          <div aria-busy="true" aria-label="Loading the access log">
            <div className="skeleton" style={{ width: "90%" }} />
            <div className="skeleton" style={{ width: "80%" }} />
            <div className="skeleton" style={{ width: "85%" }} />
          </div>
        ) : log.isError ? (
          <div className="state error" role="alert">
            The access log could not be loaded: {log.error.message}
          </div>
        ) : rows.length === 0 ? (
          <div className="state" role="status">
            No reads recorded{Object.values(filters).some(Boolean) ? " for this filter" : " yet"}.
          </div>
        ) : (
          <>
            <table className="data">
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">Who</th>
                  <th scope="col">Patient</th>
                  <th scope="col">Through</th>
                  <th scope="col">Request</th>
                </tr>
              </thead>
              <tbody>
                {rows.map((row) => (
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
                ))}
              </tbody>
            </table>
            {log.hasNextPage ? (
              <div className="actions" style={{ marginTop: 12 }}>
                <button type="button" className="secondary" onClick={() => log.fetchNextPage()} disabled={log.isFetchingNextPage}>
                  {log.isFetchingNextPage ? "Loading…" : "Load older reads"}
                </button>
              </div>
            ) : null}
          </>
        )}
      </section>
    </>
  );
}

/** One chart's readers, newest first: the access log filtered by patient. */
export function ChartReaders({ patientId }: { patientId: string }) {
  const trpc = useTRPC();
  const log = useInfiniteQuery(
    trpc.audit.accessLog.infiniteQueryOptions({ patientId, limit: 20 }, { getNextPageParam: (page) => page.nextCursor ?? undefined }),
  );
  const rows = log.data?.pages.flatMap((p) => p.rows) ?? [];
  return (
    <section className="panel" aria-labelledby="readers-title" data-testid="chart-readers">
      <div className="panel-head">
        <h2 id="readers-title">Who viewed this chart</h2>
        <span className="muted small">Newest first · includes your own reads on this page</span>
      </div>
      {log.isPending ? (
        <div aria-busy="true" aria-label="Loading who viewed this chart">
          <div className="skeleton" style={{ width: "85%" }} />
          <div className="skeleton" style={{ width: "70%" }} />
        </div>
      ) : log.isError ? (
        <div className="state error" role="alert">
          The access log could not be loaded: {log.error.message}
        </div>
      ) : rows.length === 0 ? (
        <div className="state" role="status">
          Nobody has read this chart yet.
        </div>
      ) : (
        <>
          <table className="data dense">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Who</th>
                <th scope="col">Through</th>
                <th scope="col">Request</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((row) => (
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
              ))}
            </tbody>
          </table>
          {log.hasNextPage ? (
            <div className="load-more">
              <button type="button" className="secondary" onClick={() => log.fetchNextPage()} disabled={log.isFetchingNextPage}>
                {log.isFetchingNextPage ? "Loading…" : "Load older reads"}
              </button>
            </div>
          ) : null}
        </>
      )}
    </section>
  );
}
