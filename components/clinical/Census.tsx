"use client";
// The census: open encounters by type and by attending provider, and today's admissions and
// discharges (today in the browser's time zone). Encounters record no location, so there is none.
import { useQuery } from "@tanstack/react-query";
import { TableHead } from "@/components/DataTable";
import { ProjectionLag } from "@/components/ProjectionLag";
import { EmptyState, ErrorState, Loading, RefreshFailed, SkeletonTable } from "@/components/States";
import { useTRPC } from "@/components/trpc";
import { label } from "@/components/format";
import { ClinicalNav } from "./ClinicalNav";
import { errorText } from "./errors";
import { useBrowserTimeZone } from "./reportFormat";

export function Census() {
  const trpc = useTRPC();
  const timeZone = useBrowserTimeZone();
  const census = useQuery({ ...trpc.reports.census.queryOptions({ timeZone: timeZone ?? "UTC" }), enabled: timeZone !== null, refetchInterval: 30_000 });
  const data = census.data;
  const totals = data?.byType.reduce(
    (t, r) => ({ open: t.open + r.open, admitted: t.admitted + r.admittedToday, discharged: t.discharged + r.dischargedToday }),
    { open: 0, admitted: 0, discharged: 0 },
  );

  return (
    <>
      <ClinicalNav />
      <div className="page-head">
        <div>
          <h1>Census</h1>
          <p className="subtitle">
            Open encounters by type and attending provider, and today&rsquo;s admissions and discharges ({timeZone ?? "your time zone"}). The
            location an encounter records (ward, room, bed) is on its chart; the census is not broken down by it.
          </p>
        </div>
        {data ? <ProjectionLag lag={data.lag} fetchedAt={census.dataUpdatedAt} /> : null}
      </div>

      {census.isError && !data ? <ErrorState onRetry={() => void census.refetch()}>Could not load the census: {errorText(census.error)}</ErrorState> : null}
      {census.isRefetchError && data ? (
        <RefreshFailed
          what="the census"
          loadedAt={new Date(census.dataUpdatedAt)}
          error={errorText(census.error)}
          onRetry={() => void census.refetch()}
          testId="census-refresh-failed"
        />
      ) : null}

      {census.isPending ? (
        <Loading label="Loading census" lines={[{ width: 460, height: 60 }]} />
      ) : totals ? (
        <div className="tiles" data-testid="census-totals">
          <div className="tile">
            <div className="num" data-testid="census-open">
              {totals.open}
            </div>
            <div className="what">open encounters</div>
          </div>
          <div className="tile">
            <div className="num" data-testid="census-admitted">
              {totals.admitted}
            </div>
            <div className="what">admitted today</div>
          </div>
          <div className="tile">
            <div className="num" data-testid="census-discharged">
              {totals.discharged}
            </div>
            <div className="what">discharged today</div>
          </div>
        </div>
      ) : null}

      <section className="panel" aria-labelledby="by-type-h">
        <div className="panel-head">
          <h2 id="by-type-h">By encounter type</h2>
        </div>
        {census.isPending ? (
          <SkeletonTable columns={4} rows={4} label="Loading census by type" />
        ) : data && data.byType.length === 0 ? (
          <EmptyState testId="census-empty">No encounter is open, and none started or ended today.</EmptyState>
        ) : data ? (
          <table className="data" data-testid="census-by-type">
            <TableHead columns={["Type", "Open now", "Admitted today", "Discharged today"]} />
            <tbody>
              {data.byType.map((r) => (
                <tr key={r.encounterType}>
                  <td>{label(r.encounterType)}</td>
                  <td>{r.open}</td>
                  <td>{r.admittedToday}</td>
                  <td>{r.dischargedToday}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
        {data && data.dispositionsToday.length > 0 ? (
          <p className="small muted">
            Discharged today to: {data.dispositionsToday.map((d) => `${label(d.disposition)} ${d.discharged}`).join(", ")}.
          </p>
        ) : null}
      </section>

      <section className="panel" aria-labelledby="by-provider-h">
        <div className="panel-head">
          <h2 id="by-provider-h">Open encounters by attending provider</h2>
        </div>
        {census.isPending ? (
          <SkeletonTable columns={3} rows={4} label="Loading census by provider" />
        ) : data && data.byProvider.length === 0 ? (
          <EmptyState>No encounter is open.</EmptyState>
        ) : data ? (
          <table className="data" data-testid="census-by-provider">
            <TableHead columns={["Provider", "Type", "Open"]} />
            <tbody>
              {data.byProvider.map((r) => (
                <tr key={`${r.providerId}-${r.encounterType}`}>
                  <td>{r.providerName ?? <span className="muted">Former user</span>}</td>
                  <td>{label(r.encounterType)}</td>
                  <td>{r.open}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
      </section>
    </>
  );
}
