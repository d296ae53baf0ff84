"use client";
// One event in full: its payload, every metadata field, the chain of events that caused it and
// that it caused, and the other events written in the same request (correlation id).
import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { DateTime } from "../DateTime";
import { EventSummary } from "../EventSummary";
import { eventTitle } from "../format";
import { ErrorState } from "../States";
import { useTRPC } from "../trpc";
import { eventLogHref } from "./EventLog";
import { errorText, shortId, type EventDetailData } from "./format";

type Item = EventDetailData["event"];

export function EventDetail({ eventId }: { eventId: string }) {
  const trpc = useTRPC();
  const detail = useQuery(trpc.audit.event.queryOptions({ eventId }));

  if (detail.isPending) {
    return (
      <div aria-busy="true" aria-label="Loading the event">
        <div className="skeleton" style={{ width: "30%", height: 24 }} />
        <div className="panel">
          <div className="skeleton" style={{ width: "70%" }} />
          <div className="skeleton" style={{ width: "55%" }} />
          <div className="skeleton" style={{ width: "62%" }} />
        </div>
      </div>
    );
  }
  if (detail.isError) {
    const notFound = (detail.error as { data?: { code?: string } | null }).data?.code === "NOT_FOUND";
    return (
      <>
        <Crumbs />
        <h1>{notFound ? "No such event" : "Event"}</h1>
        <ErrorState onRetry={notFound ? undefined : () => void detail.refetch()}>
          {notFound ? `No event has the id ${eventId}.` : `The event could not be loaded: ${errorText(detail.error)}`}
        </ErrorState>
      </>
    );
  }
  const { event, causedBy, causedByCommand, caused, correlated, correlatedTruncated } = detail.data;

  return (
    <>
      <Crumbs />
      <div className="page-head">
        <div>
          <h1>
            {eventTitle(event.type)} <span className="badge info mono-badge">{event.type}</span>
          </h1>
          <p className="subtitle">
            Version {event.version} of <span className="mono">{event.streamId}</span> · recorded <DateTime value={event.recordedAt} precision="millisecond" />
          </p>
        </div>
        {event.patientId ? (
          <Link className="button secondary" href={`/audit/patients/${event.patientId}?asOf=${encodeURIComponent(event.recordedAt.toISOString())}`}>
            Patient record as of this event
          </Link>
        ) : null}
      </div>

      <div className="audit-grid">
        <section className="panel" aria-labelledby="meta-title">
          <h2 id="meta-title">Metadata</h2>
          <dl className="facts meta" data-testid="event-metadata">
            <dt>Event id</dt>
            <dd>
              <code>{event.eventId}</code>
            </dd>
            <dt>Type</dt>
            <dd>
              <code>{event.type}</code> · schema v{event.schemaVersion}
            </dd>
            <dt>Stream</dt>
            <dd>
              <Link href={eventLogHref({ stream: event.streamId })} className="mono">
                {event.streamId}
              </Link>
            </dd>
            <dt>Record type</dt>
            <dd>{event.aggregateType}</dd>
            <dt>Version</dt>
            <dd>{event.version}</dd>
            <dt>Global position</dt>
            <dd>{event.globalPosition}</dd>
            <dt>Occurred at</dt>
            <dd>
              <DateTime value={event.occurredAt} precision="millisecond" />
              <span className="muted small"> when it happened, as the command said</span>
            </dd>
            <dt>Recorded at</dt>
            <dd>
              <DateTime value={event.recordedAt} precision="millisecond" />
              <span className="muted small"> when the system stored it</span>
            </dd>
            <dt>User</dt>
            <dd>
              {event.userName ? <>{event.userName} · </> : null}
              <Link href={eventLogHref({ user: event.userId })} className="mono" title="All events by this user">
                {event.userId}
              </Link>
            </dd>
            <dt>Correlation id</dt>
            <dd>
              <Link href={eventLogHref({ correlation: event.correlationId })} className="mono" title="All events of this request">
                {event.correlationId}
              </Link>
            </dd>
            <dt>Causation id</dt>
            <dd>
              {causedBy[0] ? (
                // Caused by a stored event (a reaction, an admin's action on a dead letter): that
                // event, not the command its chain started from (which this said before).
                <>
                  <Link href={`/audit/events/${causedBy[0].eventId}`} className="mono" data-testid="caused-by-event">
                    {event.causationId}
                  </Link>
                  <span className="muted small"> the event that caused it: {eventTitle(causedBy[0].type)}</span>
                </>
              ) : causedByCommand ? (
                <>
                  command <code>{causedByCommand}</code>
                  <span className="muted small"> the user&apos;s command that wrote it (not an event)</span>
                </>
              ) : event.causationId ? (
                <code>{event.causationId}</code>
              ) : (
                <span className="muted">none</span>
              )}
            </dd>
            <dt>Patient</dt>
            <dd>
              {event.patientId ? (
                <Link href={`/audit/patients/${event.patientId}`} className="mono">
                  {event.patientId}
                </Link>
              ) : (
                <span className="muted">none</span>
              )}
            </dd>
          </dl>
        </section>

        <section className="panel" aria-labelledby="payload-title">
          <h2 id="payload-title">Payload</h2>
          {/* An event this version cannot read is shown as stored by EventSummary, once. */}
          <EventSummary type={event.type} data={event.data} full undecodable={event.undecodable} />
          {event.undecodable ? null : (
            <>
              <h3 className="subhead">Data (stored at schema v{event.schemaVersion}, read at the current one)</h3>
              <pre className="json" tabIndex={0} aria-label="Payload as JSON" data-testid="event-payload">
                {JSON.stringify(event.data, null, 2)}
              </pre>
            </>
          )}
        </section>
      </div>

      <div className="audit-grid">
        <section className="panel" aria-labelledby="causation-title" data-testid="causation-chain">
          <h2 id="causation-title">Causes and effects</h2>
          <p className="muted small">
            {causedBy.length === 0 ? "Nothing but a command caused this event" : `${causedBy.length} event${causedBy.length === 1 ? "" : "s"} led to this one`};{" "}
            {caused.length === 0 ? "it caused nothing" : `it caused ${caused.length} more`}. The whole chain, across records:
          </p>
          <CausalTree tree={detail.data.tree} currentId={event.eventId} causedByCommand={causedByCommand} />
        </section>

        <section className="panel" aria-labelledby="correlated-title" data-testid="correlated-events">
          <h2 id="correlated-title">Same request</h2>
          <p className="muted small">
            {correlated.length} event{correlated.length === 1 ? "" : "s"} with correlation id <code>{shortId(event.correlationId, 13)}</code>, oldest first
            {correlatedTruncated ? " (the first 200 only)" : ""}.
          </p>
          <ol className="chain">
            {correlated.map((e) => (
              <li key={e.eventId}>
                <EventLine item={e} current={e.eventId === event.eventId} />
              </li>
            ))}
          </ol>
          {correlatedTruncated ? (
            <Link href={eventLogHref({ correlation: event.correlationId })}>All events of this request in the log</Link>
          ) : null}
        </section>
      </div>
    </>
  );
}

type Tree = EventDetailData["tree"];

/** The chain as nested lists: the command (who, when, the request) at the root, each event under the one that caused it. */
function CausalTree({ tree, currentId, causedByCommand }: { tree: Tree; currentId: string; causedByCommand: string | null }) {
  const children = new Map<string | null, Tree["nodes"]>();
  for (const node of tree.nodes) children.set(node.parentId, [...(children.get(node.parentId) ?? []), node]);
  const branch = (parentId: string | null) => {
    const nodes = children.get(parentId) ?? [];
    if (nodes.length === 0) return null;
    return (
      <ul className="tree">
        {nodes.map((node) => (
          <li key={node.eventId} data-testid="tree-node" data-depth={node.depth}>
            <EventLine item={node} current={node.eventId === currentId} />
            {branch(node.eventId)}
          </li>
        ))}
      </ul>
    );
  };
  return (
    <div className="causal-tree" data-testid="causal-tree">
      {tree.command ? (
        <div className="tree-root" data-testid="tree-command">
          <strong>Command</strong> <code>{shortId(tree.command.commandId, 13)}</code> by <strong>{tree.command.userName ?? tree.command.userId}</strong> ·{" "}
          <DateTime value={tree.command.at} /> · request{" "}
          <Link href={eventLogHref({ correlation: tree.command.correlationId })}>
            <code>{shortId(tree.command.correlationId, 13)}</code>
          </Link>
        </div>
      ) : (
        <div className="tree-root muted small">
          {causedByCommand ? (
            <>
              Started by <code>{causedByCommand}</code>, which names no stored event.
            </>
          ) : (
            "The first event has no recorded cause."
          )}
        </div>
      )}
      {branch(null)}
      {tree.truncated ? <p className="muted small">The chain is longer: its first {tree.nodes.length} events are shown.</p> : null}
    </div>
  );
}

function Crumbs() {
  return (
    <nav className="crumbs" aria-label="Breadcrumb">
      <Link href="/audit">Audit</Link> › <Link href="/audit/events">Event log</Link> › Event
    </nav>
  );
}

function EventLine({ item, current }: { item: Item; current?: boolean }) {
  return (
    <div className={`chain-item${current ? " current" : ""}`} aria-current={current ? "true" : undefined}>
      {current ? (
        <span className="strong">{eventTitle(item.type)}</span>
      ) : (
        <Link href={`/audit/events/${item.eventId}`} className="strong">
          {eventTitle(item.type)}
        </Link>
      )}{" "}
      <span className="muted small">
        {item.aggregateType} v{item.version} · <DateTime value={item.recordedAt} precision="millisecond" /> · {item.userName ?? shortId(item.userId, 14)}
        {current ? " · this event" : ""}
      </span>
    </div>
  );
}
