// What one event says, in words: the fields a demographics update changed (before -> after) and
// its reason, an encounter's or order's facts, a status change with its reason, a user's roles.
// Shared by the clinical history and the audit timeline and event pages.
import { flagText } from "@/shared/clinical/results";
import { DateTime } from "./DateTime";
import { demographicLabels, eventTitle, formatBytes, formatValue, label, resultSummary, statusBadgeClass } from "./format";

type Data = Record<string, unknown>;
const str = (v: unknown) => (typeof v === "string" ? v : v === null || v === undefined ? "" : String(v));

type Props = {
  type: string;
  data: unknown;
  /** What was ordered, for a status change (which carries only the order's id). */
  orderName?: string;
  /** What an allergy or alert event refers to (they carry only its id): "Allergy: Penicillin". */
  safetyName?: string;
  /**
   * Every recorded fact, as the audit shows it: the sex at registration, when an encounter started,
   * a missing reason as "—" and a result's stored value. Without it, the clinician's summary
   * (a result in words).
   */
  full?: boolean;
  /** Why the server could not decode this stored event: then `data` is the payload as stored. */
  undecodable?: string | null;
};

export function EventSummary({ type, data, orderName, safetyName, full = false, undecodable = null }: Props) {
  if (undecodable) return <UndecodableEvent reason={undecodable} data={data} />;
  const d = (data ?? {}) as Data;
  switch (type) {
    case "PatientRegistered":
      return (
        <p className="event-body">
          MRN: <span className="mono">{str(d.mrn)}</span> · {[str(d.givenName), str(d.familyName)].filter(Boolean).join(" ")} · born{" "}
          {str(d.dateOfBirth)}
          {full ? <> · {label(str(d.sex))}</> : null}
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
          {full || d.reason ? <Reason text={str(d.reason)} full={full} /> : null}
        </div>
      );
    }
    case "CriticalResultFlagged": {
      const findings = Array.isArray(d.findings) ? (d.findings as Data[]) : [];
      return (
        <div className="event-body critical-result">
          <p>
            <span className="badge bad">Critical</span> {label(str(d.orderKind))}: {str(d.orderDescription)}
            {full ? (
              <>
                {" "}
                · resulted <DateTime value={str(d.resultedAt)} precision="minute" />
              </>
            ) : null}
          </p>
          <ul className="findings">
            {findings.map((f, i) => (
              <li key={i}>
                {str(f.name)}: <strong>{str(f.value)}</strong>
                {f.unit ? <> {str(f.unit)}</> : null} <span className="muted">({flagText(str(f.flag))})</span>
              </li>
            ))}
          </ul>
        </div>
      );
    }
    case "EncounterStarted":
      return (
        <p className="event-body">
          {label(str(d.encounterType))}
          {d.location ? <> · {str(d.location)}</> : null}
          {full ? (
            <>
              {" "}
              · started <DateTime value={str(d.startedAt)} precision="minute" />
            </>
          ) : null}
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
          {d.reason ? <Reason text={str(d.reason)} full={full} /> : null}
          {d.resultData ? (
            <p className="small" data-testid="result">
              Result: {resultSummary(d.resultData)}
            </p>
          ) : null}
        </div>
      );
    case "AllergyRecorded": {
      const substance = (d.substance ?? {}) as Data;
      return (
        <div className="event-body">
          <p>
            <strong>{str(substance.text)}</strong>
            {d.reaction ? <> · {str(d.reaction)}</> : null} · {label(str(d.severity))} · reported by {label(str(d.source)).toLowerCase()}
          </p>
          {d.note ? <p className="small">{str(d.note)}</p> : null}
        </div>
      );
    }
    case "NoKnownAllergiesRecorded":
      return <p className="event-body">Asked: no known allergies.</p>;
    case "AllergyRefuted":
    case "AllergyResolved":
    case "AlertResolved":
      return (
        <div className="event-body">
          {safetyName ? <p>{safetyName}</p> : null}
          <Reason text={str(d.reason)} full={full} />
        </div>
      );
    case "AlertRecorded":
      return (
        <p className="event-body">
          <strong>{label(str(d.kind))}</strong>
          {d.note ? <> · {str(d.note)}</> : null}
        </p>
      );
    case "MedicationAllergyOverridden": {
      const conflicts = Array.isArray(d.conflicts) ? (d.conflicts as Data[]) : [];
      return (
        <div className="event-body">
          <p>
            <span className="badge bad">Override</span> {orderName ? <>{orderName} </> : null}ordered despite a recorded allergy to{" "}
            {conflicts.map((c) => `${str(c.substance)}${c.matchedBy === "class" && c.drugClass ? ` (${label(str(c.drugClass))})` : ""}`).join(", ")}
          </p>
          <Reason text={str(d.reason)} full={full} />
        </div>
      );
    }
    case "UserCreated":
      return (
        <p className="event-body">
          {str(d.name)} · <span className="mono">{str(d.email)}</span> · roles: {roleList(d.roles)}
        </p>
      );
    case "PatientErased":
      return (
        <div className="event-body">
          <p>The patient&apos;s data key was destroyed: their health information reads &ldquo;[erased]&rdquo; from here on.</p>
          <Reason text={str(d.reason)} full={full} />
        </div>
      );
    case "UserRolesChanged":
      return (
        <div className="event-body">
          <p>
            Roles: {roleList(d.previousRoles)} → {roleList(d.roles)}
          </p>
          {d.reason ? <Reason text={str(d.reason)} full={full} /> : null}
        </div>
      );
    case "UserEnrolmentIssued":
      return (
        <div className="event-body">
          <p>
            {d.cause === "reset" ? "Password reset: the old password stopped working; " : d.cause === "reissued" ? "New enrolment link (the previous one stopped working); " : "Enrolment link issued with the account; "}
            usable once until <DateTime value={str(d.expiresAt)} precision="minute" />
          </p>
          {d.reason ? <Reason text={str(d.reason)} full={full} /> : null}
        </div>
      );
    case "OutboxDeadLetterRetried":
    case "OutboxDeadLetterSetAside": {
      const where = d.stage === "bus" ? "at the message bus" : "in the in-process handlers";
      const what =
        type === "OutboxDeadLetterRetried"
          ? "put back in line"
          : d.stage === "bus"
            ? "set aside: never published"
            : "set aside: sent on to the message bus without the in-process handlers";
      return (
        <div className="event-body">
          <p>
            {eventTitle(str(d.eventType))} <span className="mono">{str(d.eventId).slice(0, 8)}</span>, dead-lettered {where} after {str(d.attempts)} tries
            {d.lastError ? <> ({str(d.lastError)})</> : null}, {what}
          </p>
          {d.reason ? <Reason text={str(d.reason)} full={full} /> : null}
        </div>
      );
    }
    case "SnapshotsDiscarded": {
      const n = Number(d.discarded ?? 0);
      const which =
        d.which === "all"
          ? "all of them: loads fold from the events until the next snapshot, and time travel lost its historic snapshots"
          : d.currentStateVersion === null
            ? "all of them: no code folds this type any more"
            : `those of state versions other than ${str(d.currentStateVersion)}, which this build did not use`;
      return (
        <div className="event-body">
          <p>
            {n.toLocaleString("en-US")} {n === 1 ? "snapshot" : "snapshots"} of {str(d.aggregateType)} records discarded ({formatBytes(Number(d.bytes ?? 0))}), {which}
          </p>
          {d.reason ? <Reason text={str(d.reason)} full={full} /> : null}
        </div>
      );
    }
    case "UserEnrolled":
      return <p className="event-body">Set their own password with their enrolment link</p>;
    default:
      return null;
  }
}

/** A stored event this version cannot read: said plainly, and shown exactly as stored. */
function UndecodableEvent({ reason, data }: { reason: string; data: unknown }) {
  return (
    <div className="event-body" data-testid="undecodable-event">
      <p className="alert warn" role="note">
        This event could not be read by this version of the system ({reason}). It is shown as stored.
      </p>
      <pre className="json" tabIndex={0} aria-label="Stored payload as JSON">
        {JSON.stringify(data, null, 2)}
      </pre>
    </div>
  );
}

function Reason({ text, full }: { text: string; full: boolean }) {
  return full ? (
    <p className="reason">
      <span className="reason-label">Reason:</span> {text || "—"}
    </p>
  ) : (
    <p className="reason">Reason: {text}</p>
  );
}


function roleList(value: unknown): string {
  return Array.isArray(value) && value.length > 0 ? value.map(String).join(", ") : "none";
}
