"use client";
// The record's events, newest first, one more page per "Load older" (keyset on the global position).
import { useInfiniteQuery } from "@tanstack/react-query";
import { LoadOlderRow, SkeletonLines } from "@/components/States";
import { useTRPC, useTRPCClient } from "@/components/trpc";
import { errorText } from "./errors";
import { HistoryEvent } from "./HistoryEvent";

const PAGE = 20;

type OrderNames = Record<string, string>;

/** `viewId`: the chart screen's view id, so the history's pages count as part of that one view. */
export function PatientHistory({ patientId, viewId, orderNames }: { patientId: string; viewId: string; orderNames: OrderNames }) {
  const trpc = useTRPC();
  const client = useTRPCClient();
  const input = { patientId, viewId, limit: PAGE };
  // One query for all the pages shown, so the chart's refresh after a save re-reads them in order
  // from the newest, each cursor taken from the page just re-read: with a query per page, page 2
  // kept its first cursor and the events pushed off page 1 by the save fell into a gap.
  const pages = useInfiniteQuery({
    // Under the procedure's path, so useChartRefresh's invalidation of patient.history reaches it.
    queryKey: [...trpc.patient.history.pathKey(), { input, type: "infinite" }],
    queryFn: ({ pageParam, signal }) => client.patient.history.query({ ...input, beforePosition: pageParam }, { signal }),
    initialPageParam: undefined as number | undefined,
    getNextPageParam: (page) => page.nextBefore ?? undefined,
  });
  const items = pages.data?.pages.flatMap((p) => p.items) ?? [];
  return (
    <section className="panel" aria-labelledby="history-title">
      <h2 id="history-title">Recent history</h2>
      <ol className="events" aria-label="Events, newest first">
        {pages.isPending ? (
          <li aria-busy="true" aria-label="Loading history" className="event">
            <SkeletonLines lines={["35%", "60%"]} />
          </li>
        ) : pages.isError && !pages.data ? (
          <li className="state error" role="alert">
            Could not load the history: {errorText(pages.error)}{" "}
            <button type="button" className="secondary small" onClick={() => void pages.refetch()}>
              Try again
            </button>
          </li>
        ) : (
          <>
            {pages.isRefetchError ? (
              <li className="state error" role="alert">
                Could not refresh the history: {errorText(pages.error)}. The events below are as last loaded.{" "}
                <button type="button" className="secondary small" onClick={() => void pages.refetch()}>
                  Try again
                </button>
              </li>
            ) : null}
            {items.length === 0 ? <li className="state">No events yet.</li> : null}
            {items.map((item) => (
              <HistoryEvent key={item.eventId} item={item} orderNames={orderNames} />
            ))}
            <LoadOlderRow pages={pages} errorText={errorText} />
          </>
        )}
      </ol>
    </section>
  );
}
