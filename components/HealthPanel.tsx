"use client";
import { useQuery } from "@tanstack/react-query";
import { DateTime } from "./DateTime";
import { CLOCK_SKEW_WARN_SECONDS } from "../shared/clock";
import { DEGRADED_WAIT_MS } from "../shared/health";
import { ErrorState, Loading } from "./States";
import { useTRPC } from "./trpc";
import type { PoolState } from "@/server/db/client";
import type { inferRouterOutputs } from "@trpc/server";
import type { AppRouter } from "@/server/api/root";

function StatusBadge({ status }: { status: "up" | "degraded" }) {
  return status === "up" ? (
    <span className="badge ok">Up</span>
  ) : (
    <span className="badge warn" title="Requests are waiting for a database connection or a lock, or the database is read-only: some may be answered 'the database is unavailable' or 'read-only'">
      Degraded
    </span>
  );
}

/** The app's database connections (PostgreSQL): in use, idle, and requests waiting for one. */
function PoolFacts({ pool }: { pool: PoolState | null | undefined }) {
  if (!pool) return null;
  return (
    <>
      <dt>Connections</dt>
      <dd data-testid="db-pool">
        {pool.total - pool.idle} in use, {pool.idle} idle of {pool.max}
        {pool.waiting > 0 ? (
          // A request that waited a moment as several arrived together is not a warning; one past
          // the threshold health calls "degraded" is.
          <span className={pool.longestWaitMs > DEGRADED_WAIT_MS ? "badge warn" : "muted"}>
            {" "}
            {pool.waiting} waiting ({(pool.longestWaitMs / 1000).toFixed(1)} s)
          </span>
        ) : null}
      </dd>
    </>
  );
}

export function HealthPanel() {
  const trpc = useTRPC();
  const health = useQuery(trpc.system.health.queryOptions(undefined, { refetchInterval: 10_000 }));

  return (
    <section className="panel" aria-labelledby="health-title" data-testid="health">
      <h2 id="health-title">System</h2>
      {health.isPending ? (
        <Loading label="Loading system status" lines={["40%", "60%", "30%"]} />
      ) : health.isError ? (
        <ErrorState onRetry={() => void health.refetch()}>The server did not answer: {health.error.message}</ErrorState>
      ) : health.data.pool === undefined ? (
        <p data-testid="health-status">
          <StatusBadge status={health.data.status} /> <span className="muted">Sign in to see the database and its migrations.</span>
        </p>
      ) : (
        <dl className="facts">
          <dt>Status</dt>
          <dd data-testid="health-status">
            <StatusBadge status={health.data.status} />
          </dd>
          <PoolFacts pool={health.data.pool} />
          {health.data.details ? <DatabaseFacts details={health.data.details} /> : null}
        </dl>
      )}
    </section>
  );
}

type Details = NonNullable<inferRouterOutputs<AppRouter>["system"]["health"]["details"]>;

/** The database, its migrations and the store's size: for admins. */
function DatabaseFacts({ details }: { details: Details }) {
  return (
    <>
      <dt>Database</dt>
      <dd>
        <span className={`badge ${details.mode === "postgresql" ? "ok" : "info"}`} data-testid="db-mode">
          {details.mode === "postgresql" ? "PostgreSQL" : "Embedded (PGlite)"}
        </span>{" "}
        <span className="muted">{details.location}</span>
      </dd>
      <dt>Migrations</dt>
      <dd>
        {details.migration.applied} applied
        {details.migration.pending > 0 ? (
          <span className="badge warn"> {details.migration.pending} pending</span>
        ) : null}{" "}
        <code className="muted">{details.migration.latest ?? "none"}</code>
      </dd>
      {details.readOnly ? (
        <>
          <dt>Writes</dt>
          <dd>
            <div className="alert error" role="status" data-testid="db-read-only">
              The database is read-only (a standby not yet promoted, or <code>default_transaction_read_only</code> set): changes, sign-ins
              and chart openings are refused until it is writable again. The background work waits and carries on by itself.
            </div>
          </dd>
        </>
      ) : null}
      {details.lockWaits && details.lockWaits.sessions > 0 ? (
        <>
          <dt>Lock waits</dt>
          <dd>
            <div className="alert warn" role="status" data-testid="db-lock-waits">
              {details.lockWaits.sessions} database session{details.lockWaits.sessions === 1 ? "" : "s"} waiting for a lock
              {details.lockWaits.longestSeconds > 0 ? ` (the longest ${details.lockWaits.longestSeconds.toFixed(0)} s)` : ""}
              {details.lockWaits.tables.length > 0 ? <> on {details.lockWaits.tables.join(", ")}</> : null}
              {details.lockWaits.blockers.length > 0 ? (
                <>
                  , held by{" "}
                  {details.lockWaits.blockers
                    .map((b) => `process ${b.pid}${b.user ? ` (${b.user}${b.application ? `, ${b.application}` : ""})` : ""}`)
                    .join(", ")}
                </>
              ) : null}
              . Requests waiting are answered &quot;the database is unavailable&quot; after the statement bound.
            </div>
          </dd>
        </>
      ) : null}
      <dt>Events</dt>
      <dd data-testid="event-count" title="The highest position in the global log: an upper bound, since a rolled-back append leaves a gap">
        {details.estimates === null ? (
          <span className="muted">not read: a lock held it up</span>
        ) : (
          <>
            about {details.estimates.events.toLocaleString("en-US")} <span className="muted">(estimate)</span>
          </>
        )}
      </dd>
      <dt>Streams</dt>
      <dd title="The database statistics' estimate of live rows">
        {details.estimates === null ? (
          <span className="muted">not read: a lock held it up</span>
        ) : details.estimates.streams === null ? (
          <span className="muted">no estimate yet (the database has not gathered statistics)</span>
        ) : (
          <>
            about {details.estimates.streams.toLocaleString("en-US")} <span className="muted">(estimate)</span>
          </>
        )}
      </dd>
      <dt>Server time</dt>
      <dd>
        <DateTime value={details.serverTime} />
        {Math.abs(details.clockSkewSeconds) > CLOCK_SKEW_WARN_SECONDS ? (
          <div className="alert warn" role="status" data-testid="clock-skew">
            This console&apos;s clock is {Math.abs(details.clockSkewSeconds).toFixed(1)} s{" "}
            {details.clockSkewSeconds > 0 ? "ahead of" : "behind"} the database&apos;s. Sign-outs and role changes made elsewhere, the
            sign-in limits and the times clinicians record depend on it: set the servers&apos; clocks (NTP).
          </div>
        ) : null}
      </dd>
    </>
  );
}
