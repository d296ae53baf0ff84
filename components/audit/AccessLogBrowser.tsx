"use client";
import { useInfiniteQuery } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { useTRPC } from "../trpc";

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
                      <code>{row.patientId}</code>
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
