"use client";
// Per user across patients, for spotting snooping: "this user opened 140 charts today". Most
// charts opened first; a day, a week or a month, in the officer's time zone.
import { DateTime } from "../DateTime";
import { skipToken, useInfiniteQuery } from "@tanstack/react-query";
import { useSearchParams } from "next/navigation";
import { useState } from "react";
import { LoadMore, TableHead } from "../DataTable";
import { EmptyState, ErrorState, Loading } from "../States";
import { useTRPC } from "../trpc";
import { errorText } from "./format";
import { useHydrated } from "./useHydrated";
import { oneOf, queryOf, useReplaceQuery } from "./urlState";

const periods = {
  today: { label: "Today", from: (now: Date) => new Date(now.getFullYear(), now.getMonth(), now.getDate()) },
  week: { label: "Last 7 days", from: (now: Date) => new Date(now.getFullYear(), now.getMonth(), now.getDate() - 6) },
  month: { label: "This month", from: (now: Date) => new Date(now.getFullYear(), now.getMonth(), 1) },
} as const;
type Period = keyof typeof periods;

const periodKeys = Object.keys(periods) as Period[];

export function UserActivity() {
  const trpc = useTRPC();
  // The period is in the URL (Back, a reload, a shared link); a damaged one reads as today.
  const params = useSearchParams();
  const replace = useReplaceQuery();
  const period = oneOf(params.get("period"), periodKeys) ?? "today";
  // "Today" starts at the reader's midnight, which the server (UTC) cannot know: computed once
  // the page runs in the browser, so server and browser render the same first page. Kept for
  // the visit, so the list does not move at midnight under the reader.
  const hydrated = useHydrated();
  const [starts, setStarts] = useState<Partial<Record<Period, Date>>>({});
  const from = hydrated ? (starts[period] ?? periods[period].from(new Date())) : null;
  const activity = useInfiniteQuery(
    trpc.audit.userActivity.infiniteQueryOptions(from ? { from, limit: 25 } : skipToken, { getNextPageParam: (page) => page.nextCursor ?? undefined }),
  );
  const users = activity.data?.pages.flatMap((p) => p.users) ?? [];
  const when = periods[period].label.toLowerCase();

  return (
    <section className="panel" aria-labelledby="activity-title">
      <div className="panel-head">
        <h2 id="activity-title">Charts opened per user</h2>
        <div className="row tight" role="group" aria-label="Period">
          {periodKeys.map((p) => (
            <button
              key={p}
              type="button"
              className={p === period ? "" : "secondary"}
              aria-pressed={p === period}
              onClick={() => {
                setStarts((s) => ({ ...s, [p]: periods[p].from(new Date()) }));
                replace(p === "today" ? "" : queryOf({ period: p }));
              }}
            >
              {periods[p].label}
            </button>
          ))}
        </div>
      </div>
      <p className="muted small">
        {from ? (
          <>
            Since <DateTime value={from} precision="minute" />.{" "}
          </>
        ) : null}
        Most charts first: an unusual count is worth a look.
      </p>
      {!from || activity.isPending ? (
        <Loading label="Loading activity per user" lines={["85%", "70%", "60%"]} />
      ) : activity.isError ? (
        <ErrorState onRetry={() => void activity.refetch()}>Activity could not be loaded: {errorText(activity.error)}</ErrorState>
      ) : users.length === 0 ? (
        <EmptyState role="status">Nobody read any patient data {when}.</EmptyState>
      ) : (
        <>
          <table className="data">
            <TableHead columns={["Who", "Summary", "Charts opened", "Screen views (not lists)", "Listed in search or lists", "Emergency accesses", "First", "Last"]} />
            <tbody>
              {users.map((u) => (
                <tr key={u.userId} data-testid="user-activity">
                  <td>
                    <strong>{u.userName ?? "unknown user"}</strong>
                    {u.userEmail ? <div className="muted small">{u.userEmail}</div> : null}
                  </td>
                  <td>
                    {u.userName ?? "This user"} opened {u.chartsOpened} chart{u.chartsOpened === 1 ? "" : "s"} {when}
                  </td>
                  <td className="num">{u.chartsOpened}</td>
                  <td className="num">{u.views}</td>
                  <td className="num">{u.listed}</td>
                  <td className="num">{u.emergencyAccesses > 0 ? <span className="badge warn">{u.emergencyAccesses}</span> : 0}</td>
                  <td className="nowrap">
                    <DateTime value={u.first} precision="minute" />
                  </td>
                  <td className="nowrap">
                    <DateTime value={u.last} precision="minute" />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <LoadMore hasMore={activity.hasNextPage} loading={activity.isFetchingNextPage} onMore={() => void activity.fetchNextPage()} label="More users" />
        </>
      )}
    </section>
  );
}
