// What one event says, in words: the fields a demographics update changed (before -> after) and
// its reason, an encounter's or order's facts, a status change with its reason.
import { demographicLabels, formatSeconds, formatValue, label, statusBadgeClass } from "./format";

type Data = Record<string, unknown>;
const str = (v: unknown) => (typeof v === "string" ? v : v === null || v === undefined ? "" : String(v));

/** An ISO instant from a payload, in local time to the minute, like the rest of the screen. */
function localMinute(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : formatSeconds(d).slice(0, 16);
}

export function EventSummary({ type, data, orderName }: { type: string; data: unknown; orderName?: string }) {
  const d = (data ?? {}) as Data;
  switch (type) {
    case "PatientRegistered":
      return (
        <p className="event-body">
          MRN <span className="mono">{str(d.mrn)}</span> · {[str(d.givenName), str(d.familyName)].filter(Boolean).join(" ")} · born{" "}
          {str(d.dateOfBirth)} · {label(str(d.sex))}
        </p>
      );
    case "PatientDemographicsUpdated": {
      const changes = (d.changes ?? {}) as Data;
      const previous = (d.previous ?? {}) as Data;
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
                  <td className="before" data-testid={`before-${field}`}>
                    {formatValue(previous[field])}
                  </td>
                  <td aria-hidden="true" className="arrow">
                    →
                  </td>
                  <td className="after" data-testid={`after-${field}`}>
                    {formatValue(changes[field])}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <p className="reason">
            <span className="reason-label">Reason:</span> {str(d.reason) || "—"}
          </p>
        </div>
      );
    }
    case "EncounterStarted":
      return (
        <p className="event-body">
          {label(str(d.encounterType))} · started {localMinute(str(d.startedAt))}
          {d.reason ? <> · {str(d.reason)}</> : null}
        </p>
      );
    case "EncounterCompleted":
      return (
        <p className="event-body">
          {label(str(d.dischargeDisposition))} · {str(d.durationMinutes)} min
          {d.outcome ? <> · {str(d.outcome)}</> : null}
        </p>
      );
    case "OrderCreated": {
      const details = (d.details ?? {}) as Data;
      return (
        <p className="event-body">
          {label(str(d.kind))}: {str(details.description)}
          {d.priority && d.priority !== "routine" ? <> · {label(str(d.priority))}</> : null}
        </p>
      );
    }
    case "OrderStatusChanged":
      return (
        <div className="event-body">
          <p>
            {orderName ? <>{orderName}: </> : null}
            <span className={statusBadgeClass(str(d.previousStatus))}>{label(str(d.previousStatus))}</span> <span aria-label="to">→</span>{" "}
            <span className={statusBadgeClass(str(d.newStatus))}>{label(str(d.newStatus))}</span>
          </p>
          {d.reason ? (
            <p className="reason">
              <span className="reason-label">Reason:</span> {str(d.reason)}
            </p>
          ) : null}
          {d.resultData ? <p className="small">Result: {formatValue(d.resultData)}</p> : null}
        </div>
      );
    case "UserCreated":
      return (
        <p className="event-body">
          {str(d.name)} · <span className="mono">{str(d.email)}</span> · roles: {roleList(d.roles)}
        </p>
      );
    case "UserRolesChanged":
      return (
        <p className="event-body">
          Roles: {roleList(d.previousRoles)} → {roleList(d.roles)}
        </p>
      );
    default:
      return null;
  }
}

function roleList(value: unknown): string {
  return Array.isArray(value) && value.length > 0 ? value.map(String).join(", ") : "none";
}
