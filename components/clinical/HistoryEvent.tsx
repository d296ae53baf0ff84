// One event of a record's history, in words: what happened, when, by whom, and what changed.
import { demographicLabels, formatDateTime, formatValue, label, statusBadgeClass } from "./format";
import type { HistoryItem } from "./types";

/** Order id -> what was ordered: status changes carry only the order's id. */
type OrderNames = Record<string, string>;

const titles: Record<string, string> = {
  PatientRegistered: "Patient registered",
  PatientDemographicsUpdated: "Demographics updated",
  EncounterStarted: "Encounter started",
  EncounterCompleted: "Encounter completed",
  OrderCreated: "Order placed",
  OrderStatusChanged: "Order status changed",
};

export function eventTitle(type: string): string {
  return titles[type] ?? type.replace(/([a-z])([A-Z])/g, "$1 $2").replace(/^./, (c) => c.toUpperCase());
}

type Data = Record<string, unknown>;
const str = (v: unknown) => (typeof v === "string" ? v : v === null || v === undefined ? "" : String(v));

export function HistoryEvent({ item, orderNames, headingLevel = 3 }: { item: HistoryItem; orderNames?: OrderNames; headingLevel?: 3 | 4 }) {
  const data = item.data as Data;
  // The server names the author; an id remains only for a user who no longer exists.
  const who = item.userName ?? `user ${item.userId.slice(0, 8)}…`;
  const H = `h${headingLevel}` as "h3" | "h4";
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
      <EventDetails type={item.type} data={data} orderNames={orderNames} />
    </li>
  );
}

function EventDetails({ type, data, orderNames }: { type: string; data: Data; orderNames?: OrderNames }) {
  switch (type) {
    case "PatientRegistered":
      return (
        <p className="event-body">
          MRN <span className="mono">{str(data.mrn)}</span> · {[str(data.givenName), str(data.familyName)].filter(Boolean).join(" ")} · born{" "}
          {str(data.dateOfBirth)}
        </p>
      );
    case "PatientDemographicsUpdated": {
      const changes = (data.changes ?? {}) as Data;
      const previous = (data.previous ?? {}) as Data;
      return (
        <div className="event-body">
          <table className="diff">
            <thead>
              <tr>
                <th scope="col">Field</th>
                <th scope="col">Before</th>
                <th scope="col">
                  <span className="sr-only">changed to</span>
                </th>
                <th scope="col">After</th>
              </tr>
            </thead>
            <tbody>
              {Object.keys(changes).map((field) => (
                <tr key={field}>
                  <th scope="row">{demographicLabels[field] ?? field}</th>
                  <td className="before">{formatValue(previous[field])}</td>
                  <td aria-hidden="true" className="arrow">
                    →
                  </td>
                  <td className="after">{formatValue(changes[field])}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {data.reason ? <p className="reason">Reason: {str(data.reason)}</p> : null}
        </div>
      );
    }
    case "EncounterStarted":
      return (
        <p className="event-body">
          {label(str(data.encounterType))}
          {data.reason ? <> · {str(data.reason)}</> : null}
        </p>
      );
    case "EncounterCompleted":
      return (
        <p className="event-body">
          {label(str(data.dischargeDisposition))} · {str(data.durationMinutes)} min
          {data.outcome ? <> · {str(data.outcome)}</> : null}
        </p>
      );
    case "OrderCreated": {
      const details = (data.details ?? {}) as Data;
      return (
        <p className="event-body">
          {label(str(data.kind))}: {str(details.description)}
          {data.priority && data.priority !== "routine" ? <> · {label(str(data.priority))}</> : null}
        </p>
      );
    }
    case "OrderStatusChanged": {
      const what = orderNames?.[str(data.orderId)];
      return (
        <div className="event-body">
          <p>
            {what ? <>{what}: </> : null}
            <span className={statusBadgeClass(str(data.previousStatus))}>{label(str(data.previousStatus))}</span>{" "}
            <span aria-label="to">→</span> <span className={statusBadgeClass(str(data.newStatus))}>{label(str(data.newStatus))}</span>
          </p>
          {data.reason ? <p className="reason">Reason: {str(data.reason)}</p> : null}
          {data.resultData ? <p className="small">Result: {resultSummary(data.resultData)}</p> : null}
        </div>
      );
    }
    default:
      return null;
  }
}

/** {"Hb": {"value": 13.5, "unit": "g/dL"}, "report": "normal"} -> "Hb 13.5 g/dL; report: normal". */
export function resultSummary(result: unknown): string {
  if (!result || typeof result !== "object") return formatValue(result);
  return Object.entries(result as Data)
    .map(([k, v]) => {
      if (v && typeof v === "object" && "value" in v) {
        const { value, unit } = v as { value: unknown; unit?: unknown };
        return `${k} ${formatValue(value)}${unit ? ` ${formatValue(unit)}` : ""}`;
      }
      return k === "report" ? `report: ${formatValue(v)}` : `${k} ${formatValue(v)}`;
    })
    .join("; ");
}
