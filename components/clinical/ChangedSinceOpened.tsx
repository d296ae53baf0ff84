"use client";
// Above an inline form whose record someone else changed since it opened (seen on a refetch of the
// chart, or refused by the server as a conflict): what changed, by whom and why, while the form
// below keeps what was typed. The demographics form's conflict panel does the same for its edits.
import { useQuery } from "@tanstack/react-query";
import { useEffect, useRef, type ReactNode } from "react";
import { Loading } from "@/components/States";
import { useTRPC } from "@/components/trpc";
import { errorText } from "./errors";
import { HistoryEvent } from "./HistoryEvent";

/** The record's events after `sinceVersion`, as far back as the chart's latest history page reaches. */
const HISTORY_REACH = 50;

export function ChangedSinceOpened({
  title,
  patientId,
  streamId,
  sinceVersion,
  children,
  actions,
}: {
  title: string;
  patientId: string;
  /** The record's stream ("order-…", "encounter-…"): its events after `sinceVersion` are what changed. */
  streamId: string;
  sinceVersion: number;
  /** What it means for the form: the statuses then and now, what is still possible. */
  children: ReactNode;
  actions: ReactNode;
}) {
  const trpc = useTRPC();
  const ref = useRef<HTMLDivElement>(null);
  const history = useQuery(trpc.patient.history.queryOptions({ patientId, limit: HISTORY_REACH }, { staleTime: 0 }));
  const changes = (history.data?.items ?? []).filter((item) => item.streamId === streamId && item.version > sinceVersion).reverse();
  useEffect(() => ref.current?.focus(), []);
  return (
    <div ref={ref} tabIndex={-1} className="alert warn conflict" role="alert" aria-label={title} data-testid="changed-since-opened">
      <h3>{title}</h3>
      {children}
      {history.isPending ? (
        <Loading label="Loading what changed" lines={["50%", "70%"]} />
      ) : history.isError ? (
        <p className="error-text">Could not load what changed: {errorText(history.error)}</p>
      ) : changes.length > 0 ? (
        <>
          <h4 className="subhead">What changed</h4>
          <ol className="events compact">
            {changes.map((item) => (
              <HistoryEvent key={item.eventId} item={item} headingLevel={4} />
            ))}
          </ol>
        </>
      ) : null}
      <div className="actions">{actions}</div>
    </div>
  );
}
