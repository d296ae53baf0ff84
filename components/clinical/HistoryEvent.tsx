// One event of a record's history, in words: what happened, when, by whom, and what changed.
import { EventSummary } from "@/components/EventSummary";
import { eventTitle, formatDateTime } from "@/components/format";
import type { HistoryItem } from "./types";

/** Order id -> what was ordered: status changes carry only the order's id. */
type OrderNames = Record<string, string>;

export function HistoryEvent({ item, orderNames, headingLevel = 3 }: { item: HistoryItem; orderNames?: OrderNames; headingLevel?: 3 | 4 }) {
  // The server names the author; an id remains only for a user who no longer exists.
  const who = item.userName ?? `user ${item.userId.slice(0, 8)}…`;
  const H = `h${headingLevel}` as "h3" | "h4";
  const orderId = (item.data as Record<string, unknown> | null)?.orderId;
  return (
    <li className="event" data-event-type={item.type}>
      <div className="event-head">
        <H className="event-title">{eventTitle(item.type)}</H>
        <span className="muted small">
          <time dateTime={item.occurredAt.toISOString()}>{formatDateTime(item.occurredAt)}</time> · by{" "}
          <span className="event-who" title={`user id ${item.userId}`}>
            {who}
          </span>
        </span>
      </div>
      <EventSummary type={item.type} data={item.data} orderName={orderNames?.[String(orderId ?? "")]} undecodable={item.undecodable} />
    </li>
  );
}
