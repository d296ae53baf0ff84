"use client";
// The global event log for compliance: filters in the URL (shareable, back button works), a
// dense table newest first, one more page per "Load older" (keyset on the global position), and
// how many pages were shown in the URL too (?pages=N, re-read from the newest on a reload).
// Nothing is typed as an id: the user is picked by name or email (the access log's picker; the URL
// keeps the id, so links stay stable, and the bar names them), and a row's user, record and request
// each link to the log filtered by it, which fills in those filters.
import { DateTime } from "../DateTime";
import { useInfiniteQuery, useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { useRef, useState, type MouseEvent } from "react";
import { EventTypeOptions } from "./EventTypeOptions";
import { ExportMenu } from "./ExportMenu";
import { eventTitle, formatInstant } from "../format";
import { EmptyState, ErrorState } from "../States";
import { useTRPC, useTRPCClient } from "../trpc";
import { causationLabel, errorText, fromLocalInput, localZone, shortId, splitStream, toLocalInput, type AuditEvent } from "./format";
import { UserPicker, useFilterLabel, type Picked } from "./Pickers";
import { useHydrated } from "./useHydrated";
import { MAX_PAGES, pagesParam, textParam, useReplaceQuery, useShownPages } from "./urlState";

const PAGE = 50;

export type EventFilters = {
  type?: string;
  aggregate?: string;
  stream?: string;
  user?: string;
  correlation?: string;
  time: "recorded" | "occurred";
  /** Instants as ISO in UTC ("2026-11-29T15:18:00.000Z"): a shared link means the same window in every zone. */
  from?: string;
  to?: string;
};

const keys = ["type", "aggregate", "stream", "user", "correlation", "from", "to"] as const;

const eventTypePattern = /^[A-Za-z][A-Za-z0-9_.]{0,99}$/;
/** What each filter may hold (the server's bounds): anything else in a link is left out, not sent. */
const valid: Record<(typeof keys)[number], (v: string) => boolean> = {
  type: (v) => eventTypePattern.test(v),
  aggregate: (v) => textParam(v, 50) !== undefined,
  stream: (v) => textParam(v, 200) !== undefined,
  user: (v) => textParam(v, 100) !== undefined,
  correlation: (v) => textParam(v, 100) !== undefined,
  // An instant, or (older links) a wall time without a zone, in a plausible year.
  from: (v) => plausible(fromLocalInput(v)),
  to: (v) => plausible(fromLocalInput(v)),
};
const plausible = (d: Date | undefined) => d !== undefined && d.getUTCFullYear() >= 1900 && d.getUTCFullYear() <= 2200;

/** The filters a query string holds, and the names of those it had to leave out (damaged, or a range that ends before it starts). */
export function eventFiltersFrom(params: URLSearchParams): { filters: EventFilters; ignored: string[] } {
  const ignored: string[] = [];
  const f: EventFilters = { time: params.get("time") === "occurred" ? "occurred" : "recorded" };
  for (const k of keys) {
    const v = params.get(k)?.trim();
    if (!v) continue;
    if (valid[k](v)) f[k] = v;
    else ignored.push(k);
  }
  const from = fromLocalInput(f.from);
  const to = fromLocalInput(f.to);
  if (from && to && from >= to) {
    ignored.push("from", "to");
    delete f.from;
    delete f.to;
  }
  return { filters: f, ignored };
}

const filterWords: Record<string, string> = {
  type: "event type",
  aggregate: "record type",
  stream: "record (stream id)",
  user: "user",
  correlation: "request (correlation id)",
  from: "from",
  to: "until",
};

/** The URL of the event log with these filters (only the ones set). */
export function eventLogHref(f: Partial<EventFilters>): string {
  const params = new URLSearchParams();
  for (const k of keys) if (f[k]) params.set(k, f[k]!);
  if ((f.from || f.to) && f.time === "occurred") params.set("time", "occurred");
  const qs = params.toString();
  return qs ? `/audit/events?${qs}` : "/audit/events";
}

function inputOf(f: EventFilters) {
  const from = fromLocalInput(f.from);
  const to = fromLocalInput(f.to);
  return {
    eventTypes: f.type ? [f.type] : undefined,
    aggregateType: f.aggregate,
    streamId: f.stream,
    userId: f.user,
    correlationId: f.correlation,
    ...(f.time === "occurred" ? { occurredFrom: from, occurredTo: to } : { recordedFrom: from, recordedTo: to }),
    limit: PAGE,
  };
}

/**
 * A URL instant as the datetime-local input shows it, in the reader's zone (empty until hydrated,
 * when the zone is known). Older links held wall time without a zone: read in the reader's zone.
 */
function localValue(instant: string | undefined, hydrated: boolean): string | undefined {
  const d = fromLocalInput(instant);
  return d && hydrated ? toLocalInput(d) : undefined;
}

/** The log's filters as the extract takes them (no page size). */
function exportFilterOf(f: EventFilters) {
  const { limit: _limit, ...filter } = inputOf(f);
  return filter;
}

export function EventLog() {
  const params = useSearchParams();
  const router = useRouter();
  const pathname = usePathname();
  const replace = useReplaceQuery();
  const { filters, ignored } = eventFiltersFrom(params);
  const pages = pagesParam(params);
  const active = keys.some((k) => filters[k]);
  const hydrated = useHydrated();
  // The filters alone (not the pages shown): what the filter bar and the table are keyed by.
  const filterHref = eventLogHref(filters);
  // Users named in this visit (picked, or a name clicked in the table); a link, a reload or Back names them by asking the server.
  const [known, setKnown] = useState<Record<string, string>>({});
  const remember = (u: Picked) => setKnown((k) => (k[u.id] === u.label ? k : { ...k, [u.id]: u.label }));
  const user = useFilterLabel("user", filters.user, known);

  function apply(next: EventFilters) {
    const href = eventLogHref(next);
    router.push(href === pathname ? pathname : href, { scroll: false });
  }
  /** The pages shown go in the URL too, in place (not a step of history), so Back and a reload show as many. */
  function showPages(n: number) {
    const query = new URLSearchParams(filterHref.split("?")[1] ?? "");
    if (n > 1) query.set("pages", String(n));
    replace(query.toString());
  }

  return (
    <>
      {ignored.length > 0 ? (
        <p className="alert warn" role="alert" data-testid="ignored-filters">
          This link&apos;s {[...new Set(ignored)].map((k) => `“${filterWords[k] ?? k}”`).join(", ")} could not be read and {ignored.length === 1 ? "is" : "are"} left out: the
          events below are not filtered by {ignored.length === 1 ? "it" : "them"}.
        </p>
      ) : null}
      {/* Remounted once hydrated: the range's inputs show the URL's instants in the reader's zone, unknown on the server. */}
      <FilterBar key={`${filterHref}|${hydrated}`} initial={filters} user={user} hydrated={hydrated} onApply={apply} onPicked={remember} />
      <section className="panel" aria-labelledby="event-log-title">
        <div className="panel-head">
          <h2 id="event-log-title">Events</h2>
          <span className="muted small">
            Newest first{filters.from || filters.to ? ` by ${filters.time} time` : ""} · times in {hydrated ? localZone() : "local time"}
          </span>
          {filters.from || filters.to ? (
            <span className="small" data-testid="event-range">
              {filters.time === "occurred" ? "Occurred" : "Recorded"}
              {filters.from ? (
                <>
                  {" "}
                  from <DateTime value={fromLocalInput(filters.from)} />
                </>
              ) : null}
              {filters.to ? (
                <>
                  {" "}
                  until <DateTime value={fromLocalInput(filters.to)} />
                </>
              ) : null}
            </span>
          ) : null}
          <ExportMenu view="events" filter={exportFilterOf(filters)} />
        </div>
        <EventTable key={filterHref} filters={filters} filtered={active} pages={pages} onPages={showPages} onUser={remember} />
      </section>
    </>
  );
}

function FilterBar({
  initial,
  user,
  hydrated,
  onApply,
  onPicked,
}: {
  initial: EventFilters;
  /** The URL's user, named. */
  user: Picked | null;
  hydrated: boolean;
  onApply: (f: EventFilters) => void;
  onPicked: (u: Picked) => void;
}) {
  const trpc = useTRPC();
  const options = useQuery(trpc.audit.filterOptions.queryOptions(undefined, { staleTime: 5 * 60_000 }));
  const [error, setError] = useState<string | null>(null);
  const formRef = useRef<HTMLFormElement>(null);
  // A user picked (or cleared) here; undefined: the URL's.
  const [picked, setPicked] = useState<Picked | null | undefined>(undefined);
  const shownUser = picked === undefined ? user : picked;

  /**
   * Picking or clearing the user applies the form as it stands, as Apply does (like the access
   * log's picker, it takes effect at once, and what the bar shows is what is filtered). If the form
   * cannot apply (a range that ends before it starts), the pick waits for Apply.
   */
  function pickUser(next: Picked | null) {
    setPicked(next);
    if (next) onPicked(next);
    if (formRef.current) submit(formRef.current, next?.id);
  }

  function submit(formElement: HTMLFormElement, userId: string | undefined) {
    const form = new FormData(formElement);
    const text = (name: string) => {
      const v = form.get(name);
      return typeof v === "string" && v.trim() ? v.trim() : undefined;
    };
    const next: EventFilters = {
      type: text("type"),
      aggregate: text("aggregate"),
      stream: text("stream"),
      user: userId,
      correlation: text("correlation"),
      time: text("time") === "occurred" ? "occurred" : "recorded",
    };
    // The inputs hold the reader's wall time; the URL holds the instants it means. A value left as
    // shown keeps its instant (in the hour the clocks repeat, wall time alone means the first).
    const from = fromLocalInput(text("from"), fromLocalInput(initial.from));
    const to = fromLocalInput(text("to"), fromLocalInput(initial.to));
    next.from = from?.toISOString();
    next.to = to?.toISOString();
    if (from && to && from >= to) {
      setError("“From” must be before “Until”.");
      return;
    }
    setError(null);
    onApply(next);
  }

  return (
    <section className="panel" aria-labelledby="event-filters-title">
      <h2 id="event-filters-title" className="sr-only">
        Filter events
      </h2>
      <form
        ref={formRef}
        className="filters audit-filters"
        role="search"
        aria-label="Event log filters"
        onSubmit={(event) => {
          event.preventDefault();
          submit(event.currentTarget, shownUser?.id);
        }}
      >
        <div className="field type-field">
          <label htmlFor="f-type">Event type</label>
          {/* Remounted once the types arrive, so the URL's type is selected. */}
          <select id="f-type" name="type" key={options.data ? "loaded" : "loading"} defaultValue={initial.type ?? ""}>
            <option value="">Any type</option>
            <EventTypeOptions groups={options.data?.eventGroups} />
            {initial.type && options.data && !options.data.eventTypes.includes(initial.type) ? <option value={initial.type}>{initial.type}</option> : null}
          </select>
        </div>
        <div className="field">
          <label htmlFor="f-aggregate">Record type</label>
          <select id="f-aggregate" name="aggregate" key={options.data ? "loaded" : "loading"} defaultValue={initial.aggregate ?? ""}>
            <option value="">Any</option>
            {(options.data?.aggregateTypes ?? ["patient", "encounter", "order"]).map((a) => (
              <option key={a} value={a}>
                {a.charAt(0).toUpperCase() + a.slice(1)}
              </option>
            ))}
          </select>
        </div>
        <UserPicker picked={shownUser} onPick={pickUser} inputId="f-user" className="user-field" />
        <IdFilter name="stream" what="record" id="stream id" value={initial.stream} maxLength={200} className="wide" />
        <IdFilter name="correlation" what="request" id="correlation id" value={initial.correlation} maxLength={100} className="request-field" />
        <fieldset className="field time-range">
          <legend>Time</legend>
          <div className="time-range-inputs">
            <select name="time" aria-label="Which time" defaultValue={initial.time}>
              <option value="recorded">Recorded</option>
              <option value="occurred">Occurred</option>
            </select>
            <label htmlFor="f-from" className="sr-only">
              From
            </label>
            <input id="f-from" name="from" type="datetime-local" step="1" defaultValue={localValue(initial.from, hydrated)} aria-describedby={error ? "f-range-error" : undefined} />
            <span aria-hidden="true" className="muted">
              –
            </span>
            <label htmlFor="f-to" className="sr-only">
              Until
            </label>
            <input
              id="f-to"
              name="to"
              type="datetime-local"
              step="1"
              defaultValue={localValue(initial.to, hydrated)}
              aria-invalid={error ? true : undefined}
              aria-describedby={error ? "f-range-hint f-range-error" : "f-range-hint"}
            />
          </div>
          <span className="hint" id="f-range-hint">
            “From” is included, “Until” is not.
          </span>
          {error ? (
            <span id="f-range-error" className="error" role="alert">
              {error}
            </span>
          ) : null}
        </fieldset>
        <div className="actions">
          <button type="submit">Apply</button>
          <Link className="button secondary" href="/audit/events">
            Clear
          </Link>
        </div>
      </form>
    </section>
  );
}

/**
 * A filter on an internal id (a record's stream id, a request's correlation id), named in words:
 * the table's record and request links fill it in, so nobody has to type one.
 */
function IdFilter({ name, what, id, value, maxLength, className }: { name: keyof EventFilters; what: string; id: string; value?: string; maxLength: number; className: string }) {
  const inputId = `f-${name}`;
  return (
    <div className={`field ${className}`}>
      <label htmlFor={inputId}>
        {what.charAt(0).toUpperCase() + what.slice(1)} ({id})
      </label>
      <input id={inputId} name={name} defaultValue={value} maxLength={maxLength} placeholder={`any ${what}`} className="mono" aria-describedby={`${inputId}-hint`} />
      <span className="hint" id={`${inputId}-hint`}>
        Click a {what} in the table to fill this in.
      </span>
    </div>
  );
}

function EventTable({
  filters,
  filtered,
  pages: wanted,
  onPages,
  onUser,
}: {
  filters: EventFilters;
  filtered: boolean;
  pages: number;
  onPages: (pages: number) => void;
  /** A user's name was clicked: the filter bar shows it without asking the server. */
  onUser: (u: Picked) => void;
}) {
  const trpc = useTRPC();
  const client = useTRPCClient();
  const router = useRouter();
  const input = inputOf(filters);
  // One query for all the pages shown: a refetch (focus, invalidation) re-reads them in order from
  // the newest, each cursor taken from the page just re-read. Pages as separate queries kept the
  // cursors of the first load, so events that arrived meanwhile pushed older ones into a gap.
  const pages = useInfiniteQuery({
    queryKey: [...trpc.audit.events.pathKey(), { input, type: "infinite" }],
    queryFn: ({ pageParam, signal }) => client.audit.events.query({ ...input, before: pageParam }, { signal }),
    initialPageParam: undefined as number | undefined,
    getNextPageParam: (page) => page.nextBefore ?? undefined,
  });
  useShownPages(pages, wanted);
  const loaded = pages.data?.pages.length ?? 0;
  // One more page in the URL, up to MAX_PAGES; a page the URL asked for that failed is asked again.
  const more = () => (loaded < wanted || loaded >= MAX_PAGES ? void pages.fetchNextPage() : onPages(loaded + 1));
  const colSpan = 7;

  function openRow(event: MouseEvent<HTMLTableRowElement>, item: AuditEvent) {
    // Links inside the row (filters, the patient) keep their own meaning.
    if ((event.target as HTMLElement).closest("a, button, input, select")) return;
    if (window.getSelection()?.toString()) return;
    router.push(`/audit/events/${item.eventId}`);
  }

  const items = pages.data?.pages.flatMap((p) => p.items) ?? [];
  return (
    <div className="table-scroll">
      <table className="data dense events-table" aria-describedby="event-log-title">
        <thead>
          <tr>
            <th scope="col">Recorded</th>
            <th scope="col">Event</th>
            <th scope="col">Record</th>
            <th scope="col" className="num">
              Ver.
            </th>
            <th scope="col">User</th>
            <th scope="col">Request</th>
            <th scope="col">Causation</th>
          </tr>
        </thead>
        {pages.isPending ? (
          <tbody aria-busy="true">
            {Array.from({ length: 8 }, (_, r) => (
              <tr key={r} aria-hidden={r > 0 ? true : undefined}>
                <td colSpan={colSpan}>
                  {r === 0 ? <span className="sr-only">Loading events…</span> : null}
                  <div className="skeleton" style={{ width: `${60 + ((r * 13) % 35)}%` }} />
                </td>
              </tr>
            ))}
          </tbody>
        ) : pages.isError && !pages.data ? (
          <tbody>
            <tr>
              <td colSpan={colSpan}>
                <ErrorState onRetry={() => void pages.refetch()}>The events could not be loaded: {errorText(pages.error)}</ErrorState>
              </td>
            </tr>
          </tbody>
        ) : (
          <tbody>
            {pages.isRefetchError ? (
              <tr>
                <td colSpan={colSpan}>
                  <ErrorState onRetry={() => void pages.refetch()}>
                    The log could not be refreshed: {errorText(pages.error)}. The events below are as last loaded.
                  </ErrorState>
                </td>
              </tr>
            ) : null}
            {items.length === 0 ? (
              <tr>
                <td colSpan={colSpan}>
                  <EmptyState role="status" testId="events-empty">
                    {filtered ? "No events match these filters." : "The log is empty."}
                  </EmptyState>
                </td>
              </tr>
            ) : null}
            {items.map((e) => (
              <EventRow key={e.eventId} e={e} onOpen={openRow} onUser={onUser} />
            ))}
            {pages.isFetchingNextPage ? (
              <tr aria-busy="true">
                <td colSpan={colSpan}>
                  <span className="sr-only">Loading older events…</span>
                  <div className="skeleton" style={{ width: "70%" }} />
                </td>
              </tr>
            ) : null}
            {pages.isFetchNextPageError ? (
              <tr>
                <td colSpan={colSpan}>
                  <ErrorState onRetry={more}>The older events could not be loaded: {errorText(pages.error)}</ErrorState>
                </td>
              </tr>
            ) : null}
            {pages.hasNextPage && !pages.isFetchingNextPage && !pages.isFetchNextPageError ? (
              <tr className="load-more-row">
                <td colSpan={colSpan}>
                  <div className="load-more">
                    <button type="button" className="secondary" onClick={more} disabled={pages.isFetching}>
                      Load older
                    </button>
                  </div>
                </td>
              </tr>
            ) : null}
            {!pages.hasNextPage && items.length > 0 ? (
              <tr className="end-row">
                <td colSpan={colSpan} className="muted small">
                  End of the log{filtered ? " for these filters" : ""}.
                </td>
              </tr>
            ) : null}
          </tbody>
        )}
      </table>
    </div>
  );
}

function EventRow({ e, onOpen, onUser }: { e: AuditEvent; onOpen: (event: MouseEvent<HTMLTableRowElement>, item: AuditEvent) => void; onUser: (u: Picked) => void }) {
  const stream = splitStream(e.streamId);
  const occurredApart = Math.abs(e.occurredAt.getTime() - e.recordedAt.getTime()) > 60_000;
  return (
    <tr className="clickable" onClick={(ev) => onOpen(ev, e)} data-testid="event-row" data-event-type={e.type} data-event-id={e.eventId} data-user-id={e.userId}>
      <td className="nowrap mono-nums">
        <DateTime value={e.recordedAt} />
        {occurredApart ? (
          <div className="muted small" title={`occurred ${formatInstant(e.occurredAt)}`}>
            occurred <DateTime value={e.occurredAt} precision="minute" />
          </div>
        ) : null}
      </td>
      <td>
        <Link href={`/audit/events/${e.eventId}`} className="strong" title={e.type}>
          {eventTitle(e.type)}
        </Link>
        {e.undecodable ? (
          <>
            {" "}
            <span className="badge warn" title={`Shown as stored: ${e.undecodable}`} data-testid="undecodable-badge">
              unreadable
            </span>
          </>
        ) : null}
      </td>
      <td className="nowrap">
        <span className="kind">{e.aggregateType}</span>{" "}
        <Link href={eventLogHref({ stream: e.streamId })} className="mono" title={`All events of this record (stream id ${e.streamId})`}>
          {shortId(stream.id)}
        </Link>
        {e.patientId ? (
          <>
            {" · "}
            <Link href={`/audit/patients/${e.patientId}`} title={`Patient ${e.patientId}: timeline and time travel`}>
              patient
            </Link>
          </>
        ) : null}
      </td>
      <td className="num">{e.version}</td>
      <td>
        <Link
          href={eventLogHref({ user: e.userId })}
          data-testid="event-user"
          className={e.userName ? undefined : "mono"}
          title={`All events by ${e.userName ?? "this user"} (user id ${e.userId})`}
          onClick={() => (e.userName ? onUser({ id: e.userId, label: e.userName }) : undefined)}
        >
          {e.userName ?? shortId(e.userId, 14)}
        </Link>
      </td>
      <td>
        <Link href={eventLogHref({ correlation: e.correlationId })} className="mono" title={`All events of this request (correlation id ${e.correlationId})`}>
          {shortId(e.correlationId)}
        </Link>
      </td>
      <td>
        <code className="muted" title={e.causationId ?? "none"}>
          {causationLabel(e.causationId)}
        </code>
      </td>
    </tr>
  );
}
