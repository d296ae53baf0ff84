"use client";
// Activity by user and day for compliance: events per day and per hour of day for each user (by
// name), and a table of user-days with the distinct patients touched and night-time events, with
// the unusual ones marked.
import { useQuery } from "@tanstack/react-query";
import { useSearchParams } from "next/navigation";
import { useMemo } from "react";
import { Bar, BarChart, CartesianGrid, Legend, ReferenceArea, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { TableHead } from "@/components/DataTable";
import { ProjectionLag } from "@/components/ProjectionLag";
import { EmptyState, ErrorState, Loading, SkeletonTable } from "@/components/States";
import { useTRPC } from "@/components/trpc";
import { eventTitle } from "@/components/format";
import { useBrowserTimeZone } from "@/components/clinical/reportFormat";
import { errorText } from "./format";
import { queryOf, textParam, useReplaceQuery } from "./urlState";

const ranges = [7, 14, 30, 90] as const;
/** Users drawn as their own series; the rest are summed as "Others". */
const SERIES = 6;
const colors = ["#0b6e8a", "#c2410c", "#15803d", "#7c3aed", "#b91c1c", "#0369a1", "#64748b"];
const OTHERS = "Others";

/** A user-day touching more than this many times the median user-day's patients (and at least 5) is marked. */
const MANY_PATIENTS_FACTOR = 2;
const MANY_PATIENTS_MIN = 5;

function median(values: number[]): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export function ActivityByUser() {
  const trpc = useTRPC();
  const timeZone = useBrowserTimeZone();
  // Period and user are in the URL (Back, a reload, a shared link); a damaged value reads as the default.
  const params = useSearchParams();
  const replace = useReplaceQuery();
  const days = ranges.find((d) => String(d) === params.get("days")) ?? 14;
  const userId = textParam(params.get("user"), 100) ?? "";
  const show = (next: { days: number; userId: string }) => replace(queryOf({ days: next.days === 14 ? undefined : next.days, user: next.userId || undefined }));
  const activity = useQuery({
    ...trpc.reports.activity.queryOptions({ days, timeZone: timeZone ?? "UTC", userId: userId || undefined }),
    enabled: timeZone !== null,
    refetchInterval: 60_000,
  });
  const data = activity.data;
  // The user list for the filter stays the unfiltered one.
  const everyone = useQuery({ ...trpc.reports.activity.queryOptions({ days, timeZone: timeZone ?? "UTC" }), enabled: timeZone !== null && userId !== "" });
  const userOptions = (userId ? everyone.data?.users : data?.users) ?? data?.users ?? [];

  const view = useMemo(() => {
    if (!data) return null;
    const nameOf = new Map(data.users.map((u) => [u.id, u.name ?? "Unknown user"]));
    const totals = new Map<string, number>();
    for (const d of data.userDays) totals.set(d.userId, (totals.get(d.userId) ?? 0) + d.events);
    const ranked = [...totals].sort((a, b) => b[1] - a[1]).map(([id]) => id);
    const drawn = ranked.slice(0, SERIES);
    const seriesOf = (id: string) => (drawn.includes(id) ? nameOf.get(id)! : OTHERS);
    const series = [...drawn.map((id) => nameOf.get(id)!), ...(ranked.length > SERIES ? [OTHERS] : [])];

    const perDay = new Map<string, Record<string, number | string>>();
    for (const d of data.userDays) {
      const row = perDay.get(d.day) ?? { day: d.day };
      const s = seriesOf(d.userId);
      row[s] = ((row[s] as number | undefined) ?? 0) + d.events;
      perDay.set(d.day, row);
    }
    const perHour: Record<string, number | string>[] = Array.from({ length: 24 }, (_, hour) => ({ hour: `${String(hour).padStart(2, "0")}:00` }));
    for (const h of data.byHour) {
      const row = perHour[h.hour]!;
      const s = seriesOf(h.userId);
      row[s] = ((row[s] as number | undefined) ?? 0) + h.events;
    }
    const typical = median(data.userDays.map((d) => d.patients));
    const manyAt = Math.max(MANY_PATIENTS_MIN, typical * MANY_PATIENTS_FACTOR);
    const rows = data.userDays
      .map((d) => ({ ...d, name: nameOf.get(d.userId) ?? "Unknown user", many: d.patients > manyAt, night: d.nightEvents > 0 }))
      .sort((a, b) => Number(b.many || b.night) - Number(a.many || a.night) || b.patients - a.patients || b.day.localeCompare(a.day));
    return { series, perDay: [...perDay.values()], perHour, rows, manyAt, typesByUser: data.typesByUser, nameOf };
  }, [data]);

  const night = data?.nightHours ?? { from: 22, until: 6 };

  return (
    <>
      <div className="filters">
        <label className="inline">
          Period{" "}
          <select value={days} onChange={(e) => show({ days: Number(e.target.value), userId })} aria-label="Period">
            {ranges.map((d) => (
              <option key={d} value={d}>
                Last {d} days
              </option>
            ))}
          </select>
        </label>{" "}
        <label className="inline">
          User{" "}
          <select value={userId} onChange={(e) => show({ days, userId: e.target.value })} aria-label="User">
            <option value="">Everyone</option>
            {userId && !userOptions.some((u) => u.id === userId) ? <option value={userId}>{activity.isPending ? "…" : "Unknown user"}</option> : null}
            {userOptions.map((u) => (
              <option key={u.id} value={u.id}>
                {u.name ?? "Unknown user"}
              </option>
            ))}
          </select>
        </label>{" "}
        {data ? <ProjectionLag lag={data.lag} fetchedAt={activity.dataUpdatedAt} /> : null}
      </div>

      {activity.isError && !data ? (
        <ErrorState onRetry={() => void activity.refetch()}>Could not load activity: {errorText(activity.error)}</ErrorState>
      ) : null}

      {activity.isPending ? (
        <Loading label="Loading activity" lines={[{ width: "100%", height: 300 }]} />
      ) : view && view.rows.length === 0 ? (
        <EmptyState testId="activity-empty">No events in this period.</EmptyState>
      ) : view ? (
        <>
          <section className="panel" aria-labelledby="per-day-h">
            <h2 id="per-day-h">Events per day</h2>
            <div className="chart-box" data-testid="activity-chart" role="img" aria-label={`Events per day for ${view.series.join(", ")}`}>
              <ResponsiveContainer width="100%" height="100%">
                <BarChart data={view.perDay} margin={{ top: 8, right: 16, bottom: 8, left: 0 }}>
                  <CartesianGrid strokeDasharray="3 3" vertical={false} />
                  <XAxis dataKey="day" tick={{ fontSize: 12 }} />
                  <YAxis allowDecimals={false} tick={{ fontSize: 12 }} />
                  <Tooltip />
                  <Legend />
                  {view.series.map((s, i) => (
                    <Bar key={s} dataKey={s} stackId="users" fill={colors[i % colors.length]} isAnimationActive={false} />
                  ))}
                </BarChart>
              </ResponsiveContainer>
            </div>
          </section>

          <section className="panel" aria-labelledby="per-hour-h">
            <h2 id="per-hour-h">Events by hour of day</h2>
            <p className="small muted">
              Shaded: night, {String(night.from).padStart(2, "0")}:00 to {String(night.until).padStart(2, "0")}:00 ({timeZone}).
            </p>
            <div className="chart-box" data-testid="activity-hours-chart" role="img" aria-label="Events by hour of day">
              <ResponsiveContainer width="100%" height="100%">
                <BarChart data={view.perHour} margin={{ top: 8, right: 16, bottom: 8, left: 0 }}>
                  <CartesianGrid strokeDasharray="3 3" vertical={false} />
                  <ReferenceArea x1="00:00" x2={`${String(night.until - 1).padStart(2, "0")}:00`} fill="#1b2430" fillOpacity={0.08} />
                  <ReferenceArea x1={`${String(night.from).padStart(2, "0")}:00`} x2="23:00" fill="#1b2430" fillOpacity={0.08} />
                  <XAxis dataKey="hour" tick={{ fontSize: 11 }} interval={1} />
                  <YAxis allowDecimals={false} tick={{ fontSize: 12 }} />
                  <Tooltip />
                  <Legend />
                  {view.series.map((s, i) => (
                    <Bar key={s} dataKey={s} stackId="users" fill={colors[i % colors.length]} isAnimationActive={false} />
                  ))}
                </BarChart>
              </ResponsiveContainer>
            </div>
          </section>

          <section className="panel" aria-labelledby="user-days-h">
            <h2 id="user-days-h">User-days</h2>
            <p className="small muted">
              Marked: more than {Math.round(view.manyAt)} distinct patients in a day (twice the median user-day, at least {MANY_PATIENTS_MIN}), or any event at night.
            </p>
            <table className="data" data-testid="activity-table">
              <TableHead columns={["Day", "User", "Events", "Patients", "At night", "Most frequent in period"]} />
              <tbody>
                {view.rows.map((r) => (
                  <tr key={`${r.day}-${r.userId}`} className={r.many || r.night ? "flagged" : undefined}>
                    <td>{r.day}</td>
                    <td>{r.name}</td>
                    <td>{r.events}</td>
                    <td>{r.many ? <strong title="Many patients in one day">{r.patients} ⚑</strong> : r.patients}</td>
                    <td>{r.night ? <strong title="Events at night">{r.nightEvents} ☾</strong> : 0}</td>
                    <td className="small">
                      {(view.typesByUser[r.userId] ?? [])
                        .slice(0, 2)
                        .map((t) => eventTitle(t.eventType))
                        .join(", ")}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </section>
        </>
      ) : null}
      {activity.isPending ? <SkeletonTable columns={6} rows={4} label="Loading user-days" /> : null}
    </>
  );
}
