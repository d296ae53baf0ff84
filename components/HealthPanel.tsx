"use client";
import { useQuery } from "@tanstack/react-query";
import { ErrorState, Loading } from "./States";
import { useTRPC } from "./trpc";

export function HealthPanel() {
  const trpc = useTRPC();
  const health = useQuery(trpc.system.health.queryOptions(undefined, { refetchInterval: 10_000 }));

  return (
    <section className="panel" aria-labelledby="health-title" data-testid="health">
      <h2 id="health-title">System</h2>
      {health.isPending ? (
        <Loading label="Loading system status" lines={["40%", "60%", "30%"]} />
      ) : health.isError ? (
        <ErrorState>The server did not answer: {health.error.message}</ErrorState>
      ) : (
        <dl className="facts">
          <dt>Database</dt>
          <dd>
            <span className={`badge ${health.data.mode === "postgresql" ? "ok" : "info"}`} data-testid="db-mode">
              {health.data.mode === "postgresql" ? "PostgreSQL" : "Embedded (PGlite)"}
            </span>{" "}
            <span className="muted">{health.data.location}</span>
          </dd>
          <dt>Migrations</dt>
          <dd>
            {health.data.migration.applied} applied
            {health.data.migration.pending > 0 ? (
              <span className="badge warn"> {health.data.migration.pending} pending</span>
            ) : null}{" "}
            <code className="muted">{health.data.migration.latest ?? "none"}</code>
          </dd>
          <dt>Events</dt>
          <dd data-testid="event-count">{health.data.eventCount.toLocaleString("en-US")}</dd>
          <dt>Streams</dt>
          <dd>{health.data.streamCount.toLocaleString("en-US")}</dd>
          <dt>Server time</dt>
          <dd>{health.data.serverTime.toISOString()}</dd>
        </dl>
      )}
    </section>
  );
}
