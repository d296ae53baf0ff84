"use client";
// The record's events, newest first, one page per "Load older" (keyset on the global position).
import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { SkeletonLines } from "@/components/States";
import { useTRPC } from "@/components/trpc";
import { errorText } from "./errors";
import { HistoryEvent } from "./HistoryEvent";

const PAGE = 20;

type OrderNames = Record<string, string>;

/** `viewId`: the chart screen's view id, so the history's pages count as part of that one view. */
export function PatientHistory({ patientId, viewId, orderNames }: { patientId: string; viewId: string; orderNames: OrderNames }) {
  const [cursors, setCursors] = useState<(number | undefined)[]>([undefined]);
  return (
    <section className="panel" aria-labelledby="history-title">
      <h2 id="history-title">Recent history</h2>
      <ol className="events" aria-label="Events, newest first">
        {cursors.map((before, i) => (
          <HistoryPage
            key={before ?? "first"}
            patientId={patientId}
            viewId={viewId}
            before={before}
            orderNames={orderNames}
            isLast={i === cursors.length - 1}
            onOlder={(next) => setCursors((c) => [...c, next])}
          />
        ))}
      </ol>
    </section>
  );
}

function HistoryPage({
  patientId,
  viewId,
  before,
  orderNames,
  isLast,
  onOlder,
}: {
  patientId: string;
  viewId: string;
  before: number | undefined;
  orderNames: OrderNames;
  isLast: boolean;
  onOlder: (before: number) => void;
}) {
  const trpc = useTRPC();
  const page = useQuery(trpc.patient.history.queryOptions({ patientId, viewId, beforePosition: before, limit: PAGE }));
  if (page.isPending) {
    return (
      <li aria-busy="true" aria-label="Loading history" className="event">
        <SkeletonLines lines={["35%", "60%"]} />
      </li>
    );
  }
  if (page.isError) {
    return (
      <li className="state error" role="alert">
        Could not load the history: {errorText(page.error)}{" "}
        <button type="button" className="secondary small" onClick={() => void page.refetch()}>
          Try again
        </button>
      </li>
    );
  }
  return (
    <>
      {page.data.items.length === 0 && before === undefined ? <li className="state">No events yet.</li> : null}
      {page.data.items.map((item) => (
        <HistoryEvent key={item.eventId} item={item} orderNames={orderNames} />
      ))}
      {isLast && page.data.nextBefore !== null ? (
        <li className="load-more">
          <button type="button" className="secondary" onClick={() => onOlder(page.data.nextBefore!)}>
            Load older
          </button>
        </li>
      ) : null}
    </>
  );
}
