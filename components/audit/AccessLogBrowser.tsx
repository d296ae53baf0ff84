"use client";
// "Who has looked at this chart?": the access log by patient and user (picked by name, never typed
// as ids), over a date range in the officer's time zone, grouped by user in words, and every
// screen view below. A name that matches nobody says so: it never reads as "no reads recorded".
import { DateTime } from "../DateTime";
import { useInfiniteQuery } from "@tanstack/react-query";
import type { inferRouterOutputs } from "@trpc/server";
import Link from "next/link";
import { useSearchParams } from "next/navigation";
import { useState, type FormEvent } from "react";
import { ExportMenu } from "./ExportMenu";
import type { AppRouter } from "@/server/api/root";
import { LoadMore, TableHead } from "../DataTable";
import { EmptyState, ErrorState, Loading } from "../States";
import { useTRPC } from "../trpc";
import { errorText, fromLocalInput, localZone, toLocalInput } from "./format";
import { PatientPicker, UserPicker, useFilterLabel, type Picked } from "./Pickers";
import { useHydrated } from "./useHydrated";
import { instantParam, MAX_PAGES, pagesParam, queryOf, textParam, useReplaceQuery, useShownPages, uuidParam } from "./urlState";

type Outputs = inferRouterOutputs<AppRouter>["audit"];
type Range = { from?: Date; to?: Date };

/** The access log's view as its URL holds it: ids, never names (no patient data in a URL). */
export type AccessFilters = { patient?: string; user?: string; from?: Date; to?: Date; pages: number };

/**
 * The filters in a query string, and the names of those it had to leave out (damaged, forged, or
 * a range that ends before it starts): those read as "any", and the page says so.
 */
export function accessFiltersFrom(params: URLSearchParams): { filters: AccessFilters; ignored: string[] } {
  const ignored: string[] = [];
  const read = <T,>(key: string, parse: (v: string | null) => T | undefined): T | undefined => {
    const raw = params.get(key);
    const value = parse(raw);
    if (raw !== null && raw.trim() !== "" && value === undefined) ignored.push(key);
    return value;
  };
  const patient = read("patient", uuidParam);
  const user = read("user", (v) => textParam(v, 100));
  let from = read("from", instantParam);
  let to = read("to", instantParam);
  if (from && to && from >= to) {
    ignored.push("from", "to");
    from = to = undefined;
  }
  return { filters: { patient, user, from, to, pages: pagesParam(params) }, ignored };
}

/** The query string of these filters (pages only past the first). */
export function accessQuery(f: AccessFilters): string {
  return queryOf({ patient: f.patient, user: f.user, from: f.from, to: f.to, pages: f.pages > 1 ? f.pages : undefined });
}

const ignoredWords: Record<string, string> = { patient: "patient", user: "user", from: "from", to: "until", pages: "pages" };

/** The start of this month, in the browser's time zone. */
export function startOfMonth(now = new Date()): Date {
  return new Date(now.getFullYear(), now.getMonth(), 1);
}

export function AccessLogBrowser() {
  const params = useSearchParams();
  const replace = useReplaceQuery();
  const { filters, ignored } = accessFiltersFrom(params);
  const range: Range = { from: filters.from, to: filters.to };
  const hydrated = useHydrated();
  // Names picked in this visit; a link, a reload or Back names them by asking the server.
  const [known, setKnown] = useState<Record<string, string>>({});
  const patient = useFilterLabel("patient", filters.patient, known);
  const user = useFilterLabel("user", filters.user, known);

  /** Another filter shows the list from its first page again. */
  function change(next: Partial<AccessFilters>) {
    replace(accessQuery({ ...filters, pages: 1, ...next }));
  }
  function pick(key: "patient" | "user", picked: Picked | null) {
    if (picked) setKnown((k) => ({ ...k, [picked.id]: picked.label }));
    change({ [key]: picked?.id });
  }

  return (
    <>
      <section className="panel" aria-labelledby="filters-title">
        <h2 id="filters-title">Filter</h2>
        {ignored.length > 0 ? (
          <p className="alert warn" role="alert" data-testid="ignored-filters">
            This link&apos;s {[...new Set(ignored)].map((k) => `“${ignoredWords[k] ?? k}”`).join(", ")} could not be read and {ignored.length === 1 ? "is" : "are"} left out: the log below is not
            filtered by {ignored.length === 1 ? "it" : "them"}.
          </p>
        ) : null}
        <div className="row picker-row">
          <PatientPicker picked={patient} onPick={(p) => pick("patient", p)} />
          <UserPicker picked={user} onPick={(u) => pick("user", u)} />
        </div>
        {/* Remounted when the URL's range changes and once hydrated: the inputs show its instants in the reader's zone. */}
        <RangeForm key={`${filters.from?.toISOString()}|${filters.to?.toISOString()}|${hydrated}`} range={range} hydrated={hydrated} onApply={(r) => change(r)} />
      </section>

      {patient ? <Readers patientId={patient.id} range={range} title={`Who has looked at ${patient.label}`} /> : null}

      <section className="panel" aria-labelledby="log-title" data-testid="access-log">
        <div className="panel-head">
          <h2 id="log-title">Every screen view</h2>
          <ExportMenu view="access" filter={{ patientId: patient?.id, userId: user?.id, from: range.from, to: range.to }} />
        </div>
        <Views patientId={patient?.id} userId={user?.id} range={range} pages={filters.pages} onPages={(pages) => replace(accessQuery({ ...filters, pages }))} />
      </section>
    </>
  );
}

/**
 * The date range, in the reader's time zone: checked in the browser as the event log's is, so a
 * range that ends before it starts is refused here, inline, and never sent.
 */
function RangeForm({ range, hydrated, onApply }: { range: Range; hydrated: boolean; onApply: (range: Range) => void }) {
  const [error, setError] = useState<string | null>(null);
  function apply(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const from = fromLocalInput(String(form.get("from") ?? ""), range.from);
    const to = fromLocalInput(String(form.get("to") ?? ""), range.to);
    if (from && to && from >= to) {
      setError("“From” must be before “Until”.");
      return;
    }
    setError(null);
    onApply({ from, to });
  }
  const shown = (d: Date | undefined) => (d && hydrated ? toLocalInput(d) : undefined);
  return (
    <form onSubmit={apply} aria-label="Date range">
      <div className="row">
        <div className="field instant-field">
          <label htmlFor="from">From</label>
          <input id="from" name="from" type="datetime-local" step="1" defaultValue={shown(range.from)} aria-describedby={error ? "range-error" : undefined} />
        </div>
        <div className="field instant-field">
          <label htmlFor="to">Until</label>
          <input
            id="to"
            name="to"
            type="datetime-local"
            step="1"
            defaultValue={shown(range.to)}
            aria-invalid={error ? true : undefined}
            aria-describedby={error ? "range-hint range-error" : "range-hint"}
            onChange={() => setError(null)}
          />
        </div>
        <div className="actions">
          <button type="submit">Apply dates</button>
          <button
            type="button"
            className="secondary"
            onClick={(e) => {
              e.currentTarget.form?.reset();
              setError(null);
              onApply({});
            }}
          >
            Any time
          </button>
        </div>
        <p className="muted small" id="range-hint" data-testid="time-zone">
          Times in {hydrated ? localZone() : "your time zone"}. “From” is included, “Until” is not: until 14:00:00 ends at 13:59:59.999.
        </p>
      </div>
      {error ? (
        <p id="range-error" className="error-text" role="alert" data-testid="range-error">
          {error}
        </p>
      ) : null}
    </form>
  );
}

/** One patient's readers, grouped by user: who, how many screen views, first and last, through which screens. */
export function Readers({ patientId, range, title }: { patientId: string; range: Range; title: string }) {
  const trpc = useTRPC();
  const readers = useInfiniteQuery(
    trpc.audit.readers.infiniteQueryOptions({ patientId, ...range, limit: 25 }, { getNextPageParam: (page) => page.nextCursor ?? undefined }),
  );
  const groups = readers.data?.pages.flatMap((p) => p.groups) ?? [];
  const hydrated = useHydrated();
  return (
    <section className="panel" aria-labelledby="readers-title" data-testid="chart-readers">
      <div className="panel-head">
        <h2 id="readers-title">{title}</h2>
        <span className="muted small">
          {range.from ? (
            <>
              since <DateTime value={range.from} precision="minute" />
            </>
          ) : (
            "any time"
          )}
          {range.to ? (
            <>
              {" "}
              until <DateTime value={range.to} precision="minute" />
            </>
          ) : null}
          {hydrated ? ` (${localZone()})` : ""} · latest reader first · includes your own reads
        </span>
        <ExportMenu view="access" filter={{ patientId, from: range.from, to: range.to }} label="Export these reads" />
      </div>
      {readers.isPending ? (
        <Loading label="Loading who viewed this chart" lines={["85%", "70%"]} />
      ) : readers.isError ? (
        <ErrorState onRetry={() => void readers.refetch()}>Who viewed this chart could not be loaded: {errorText(readers.error)}</ErrorState>
      ) : groups.length === 0 ? (
        <EmptyState role="status">Nobody viewed this chart in this period.</EmptyState>
      ) : (
        <>
          <table className="data dense">
            <TableHead columns={["Who", "Screen views", "First", "Last", "Through"]} />
            <tbody>
              {groups.map((g) => (
                <ReaderRow key={g.userId} group={g} />
              ))}
            </tbody>
          </table>
          <LoadMore hasMore={readers.hasNextPage} loading={readers.isFetchingNextPage} onMore={() => void readers.fetchNextPage()} label="More readers" />
        </>
      )}
    </section>
  );
}

function ReaderRow({ group }: { group: Outputs["readers"]["groups"][number] }) {
  return (
    <tr data-testid="reader">
      <td>
        <strong>{group.userName ?? "unknown user"}</strong>
        {group.userEmail ? <div className="muted small">{group.userEmail}</div> : null}
      </td>
      <td className="num">{group.views}</td>
      <td className="nowrap">
        <DateTime value={group.first} precision="minute" />
      </td>
      <td className="nowrap">
        <DateTime value={group.last} precision="minute" />
      </td>
      <td>
        {group.screens.map((s) => (
          <div key={s.screen} data-testid="reader-screen">
            {s.screen}
            {s.views > 1 ? <span className="muted"> ×{s.views}</span> : null}
          </div>
        ))}
      </td>
    </tr>
  );
}

/** One chart's readers this month, on the patient's audit page. */
export function ChartReaders({ patientId }: { patientId: string }) {
  // The month starts at the reader's midnight, unknown to the server: computed in the browser,
  // so server and browser render the same first page.
  const hydrated = useHydrated();
  if (!hydrated) return <Loading label="Loading who has looked at this chart" lines={["80%", "60%"]} />;
  return <Readers patientId={patientId} range={{ from: startOfMonth() }} title="Who has looked at this chart this month" />;
}

/** Every screen view for the filter, newest first, a page at a time; `pages` of them shown (the URL's). */
function Views({ patientId, userId, range, pages, onPages }: { patientId?: string; userId?: string; range: Range; pages: number; onPages: (pages: number) => void }) {
  const trpc = useTRPC();
  const log = useInfiniteQuery(
    trpc.audit.accessLog.infiniteQueryOptions({ patientId, userId, ...range, limit: 50 }, { getNextPageParam: (page) => page.nextCursor ?? undefined }),
  );
  useShownPages(log, pages);
  const rows = log.data?.pages.flatMap((p) => p.rows) ?? [];
  if (log.isPending) return <Loading label="Loading the access log" lines={["90%", "80%", "85%"]} />;
  if (log.isError && !log.data) return <ErrorState onRetry={() => void log.refetch()}>The access log could not be loaded: {errorText(log.error)}</ErrorState>;
  if (rows.length === 0) {
    return <EmptyState role="status">No screen views recorded{patientId || userId || range.from || range.to ? " for this filter" : " yet"}.</EmptyState>;
  }
  const loaded = log.data.pages.length;
  return (
    <>
      <table className="data">
        <TableHead columns={["When", "Who", "Patient", "MRN", "What they did"]} />
        <tbody>
          {rows.map((row) => (
            <tr key={row.id} data-testid="access-row">
              <td className="nowrap">
                <DateTime value={row.accessedAt} />
              </td>
              <td>{row.userName ?? <span className="muted">unknown user</span>}</td>
              <td className="wrap">
                <Link href={`/audit/patients/${row.patientId}`} title="Timeline and time travel of this patient">
                  {row.patient?.name ?? "unknown patient"}
                </Link>
              </td>
              <td className="mono nowrap">{row.patient?.mrn}</td>
              <td>{row.screen}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <LoadMore
        hasMore={log.hasNextPage}
        loading={log.isFetchingNextPage || (loaded < pages && log.hasNextPage && !log.isError)}
        // One more page in the URL, up to MAX_PAGES; a page the URL asked for that failed is asked again.
        onMore={() => (loaded < pages || loaded >= MAX_PAGES ? void log.fetchNextPage() : onPages(loaded + 1))}
        error={log.isError ? errorText(log.error) : null}
        label="Load older views"
      />
    </>
  );
}
