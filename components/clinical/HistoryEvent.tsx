// One event of a record's history, in words: what happened, when, by whom, and what changed.
import { EventSummary } from "@/components/EventSummary";
import { DateTime } from "@/components/DateTime";
import { eventTitle } from "@/components/format";
import type { HistoryItem } from "./types";

/** Order, allergy or alert id -> what it is: status changes and refutations carry only the id. */
type OrderNames = Record<string, string>;

const idOf = (data: unknown, key: string) => String((data as Record<string, unknown> | null)?.[key] ?? "");

export function HistoryEvent({ item, orderNames, headingLevel = 3 }: { item: HistoryItem; orderNames?: OrderNames; headingLevel?: 3 | 4 }) {
  // The server names the author; an id remains only for a user who no longer exists.
  const who = item.userName ?? `user ${item.userId.slice(0, 8)}…`;
  const H = `h${headingLevel}` as "h3" | "h4";
  // Listed in the order it was recorded, so the time shown is when it was recorded; when that
  // differs from when it happened (entered later), both are said.
  const late = item.recordedAt.getTime() - item.occurredAt.getTime() > 60_000;
  return (
    <li className="event" data-event-type={item.type} data-event-id={item.eventId}>
      <div className="event-head">
        <H className="event-title">{eventTitle(item.type)}</H>
        <span className="muted small">
          <DateTime value={item.recordedAt} precision="minute" />
          {late ? (
            <>
              {" "}
              (happened <DateTime value={item.occurredAt} precision="minute" />)
            </>
          ) : null}{" "}
          · by{" "}
          <span className="event-who" title={`user id ${item.userId}`}>
            {who}
          </span>
        </span>
      </div>
      <EventSummary type={item.type} data={item.data} orderName={orderNames?.[idOf(item.data, "orderId")]}
        safetyName={orderNames?.[idOf(item.data, "allergyId") || idOf(item.data, "alertId")]} undecodable={item.undecodable} />
    </li>
  );
}
