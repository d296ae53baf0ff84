"use client";
// The record's events, newest first, one page per "Load older" (keyset on the global position).
import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { useTRPC } from "@/components/trpc";
import { friendlyMessage, readError } from "./errors";
import { HistoryEvent } from "./HistoryEvent";

const PAGE = 20;

type Names = { users: Record<string, string>; orders: Record<string, string> };

export function PatientHistory({ patientId, names }: { patientId: string; names: Names }) {
  const [cursors, setCursors] = useState<(number | undefined)[]>([undefined]);
  return (
    <section className="panel" aria-labelledby="history-title">
      <h2 id="history-title">Recent history</h2>
      <ol className="events" aria-label="Events, newest first">
        {cursors.map((before, i) => (
          <HistoryPage
            key={before ?? "first"}
            patientId={patientId}
            before={before}
            names={names}
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
  before,
  names,
  isLast,
  onOlder,
}: {
  patientId: string;
  before: number | undefined;
  names: Names;
  isLast: boolean;
  onOlder: (before: number) => void;
}) {
  const trpc = useTRPC();
  const page = useQuery(trpc.patient.history.queryOptions({ patientId, beforePosition: before, limit: PAGE }));
  if (page.isPending) {
    return (
      <li aria-busy="true" aria-label="Loading history" className="event">
        <div className="skeleton" style={{ width: "35%" }} />
        <div className="skeleton" style={{ width: "60%" }} />
      </li>
    );
  }
  if (page.isError) {
    return (
      <li className="state error" role="alert">
        Could not load the history: {friendlyMessage(readError(page.error))}{" "}
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
        <HistoryEvent key={item.eventId} item={item} names={names} />
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
