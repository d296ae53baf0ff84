"use client";
// Projections as an operator sees them: each read model's status, checkpoint, lag and speed, its
// last error with the event it failed on, and a rebuild (with a reason) whose progress updates
// by itself and can be cancelled.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useEffect, useRef, useState, type FormEvent } from "react";
import { TableHead } from "../DataTable";
import { EmptyState, ErrorState, Flash, Loading } from "../States";
import { DateTime } from "../DateTime";
import { counted } from "../format";
import { useSingleFlight } from "../useSingleFlight";
import { useTRPC } from "../trpc";
import { ReasonField } from "../forms/ReasonField";
import { InlineFormActions } from "../clinical/form";

const stateLabel: Record<string, { label: string; badge: string }> = {
  running: { label: "running", badge: "ok" },
  behind: { label: "behind", badge: "warn" },
  rebuilding: { label: "rebuilding", badge: "info" },
  rebuild_stalled: { label: "rebuild stalled", badge: "warn" },
  failed: { label: "failed", badge: "bad" },
  needs_rebuild: { label: "needs rebuild", badge: "warn" },
};

const count = (n: number) => Math.round(n).toLocaleString("en-US");

export function formatSpan(seconds: number): string {
  if (seconds < 1) return "under 1 s";
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172_800) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86_400)} days`;
}

/** A rebuild's progress, polled every second while it runs. */
function RebuildProgress({ rebuildId, onEnded }: { rebuildId: string; onEnded: () => void }) {
  const trpc = useTRPC();
  const ended = useRef(false);
  const progress = useQuery(
    trpc.projections.rebuildProgress.queryOptions(
      { rebuildId },
      { refetchInterval: (query) => (query.state.data && query.state.data.status !== "running" ? false : 1_000) },
    ),
  );
  const cancel = useMutation(trpc.projections.cancelRebuild.mutationOptions());
  const status = progress.data?.status;
  useEffect(() => {
    if (status && status !== "running" && !ended.current) {
      ended.current = true;
      onEnded();
    }
  }, [status, onEnded]);
  if (progress.isPending) return <Loading label="Loading the rebuild's progress" lines={["60%"]} />;
  if (progress.isError) return <ErrorState onRetry={() => void progress.refetch()}>Could not load the rebuild&apos;s progress: {progress.error.message}</ErrorState>;
  const p = progress.data;
  return (
    <div className="rebuild" data-testid={`rebuild-${p.name}`} aria-live="polite">
      <div className="row">
        <strong>{p.name}</strong>
        <progress max={100} value={p.percent} aria-label={`Rebuild of ${p.name}`} />
        <strong data-testid="rebuild-percent">{p.percent}%</strong>
      </div>
      <p className="muted">
        {p.status === "running" ? (
          <>
            {p.phase === "swapping" ? "Swapping in the rebuilt tables" : p.phase === "starting" ? "Preparing the shadow tables" : p.phase === "indexing" ? "Indexing the rebuilt tables" : "Replaying the log"}:{" "}
            {count(p.eventsDone)} of {count(p.eventsTotal)} events
            {p.eventsPerSecond > 0 ? (p.stalled ? `, ${count(p.eventsPerSecond)} events/s when it last reported` : `, ${count(p.eventsPerSecond)} events/s`) : ""}
            {p.etaSeconds !== null ? `, about ${formatSpan(p.etaSeconds)} left` : ""}
          </>
        ) : p.status === "finished" ? (
          <span data-testid="rebuild-finished">
            Finished: {count(p.eventsDone)} events at {count(p.eventsPerSecond)} events/s; writers paused {p.swapPauseMs?.toFixed(1) ?? "—"} ms for the swap.
          </span>
        ) : p.status === "cancelled" ? (
          "Cancelled: the live tables were left as they were."
        ) : (
          <>Failed ({p.error ?? "unknown error"}): the live tables were left as they were.</>
        )}
      </p>
      <p className="muted">
        Started <DateTime value={p.startedAt} precision="minute" /> by{" "}
        <span data-testid="rebuild-started-by">{p.startedByName ?? <span className="mono">{p.startedBy}</span>}</span>, because: {p.reason}
      </p>
      {p.stalled ? (
        <div className="alert warn" role="status" data-testid="rebuild-stalled">
          No progress reported for {formatSpan(p.quietSeconds)}: the process running this rebuild may have stopped (a restart, a
          crash). Cancel ends it if so, and the live tables stay as they were; starting the rebuild again takes it over.
        </div>
      ) : null}
      {p.status === "running" ? (
        <button type="button" className="secondary" disabled={cancel.isPending || (p.phase === "swapping" && !p.stalled)} onClick={() => cancel.mutate({ rebuildId })}>
          {cancel.isPending ? "Cancelling…" : "Cancel rebuild"}
        </button>
      ) : null}
      {cancel.isError ? <div className="alert error" role="alert">Could not cancel: {cancel.error.message}</div> : null}
    </div>
  );
}

function RebuildForm({ name, onStarted, onClose }: { name: string; onStarted: (id: string) => void; onClose: () => void }) {
  const trpc = useTRPC();
  const [reason, setReason] = useState("");
  const start = useMutation(trpc.projections.rebuild.mutationOptions({ onSuccess: ({ rebuildId }) => onStarted(rebuildId) }));
  const started = useRef(false);
  // A double-click started two rebuilds: the second waits a moment for the rebuild lock before
  // saying "already being rebuilt", and on a small log the first had ended by then.
  const once = useSingleFlight();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    once(async () => {
      await start.mutateAsync({ name, reason });
      // Before the next frame, where the closed form moves the focus.
      started.current = true;
    });
  };
  const issue = start.error?.data?.issues?.find((i) => i.path === "reason")?.message;
  // The form opens under the table, far from the row's button: focus its reason. When it closes,
  // focus goes to the progress of the rebuild it started, or back to the row's button.
  const formRef = useRef<HTMLFormElement>(null);
  useEffect(() => {
    formRef.current?.querySelector("textarea")?.focus();
    return () => {
      requestAnimationFrame(() => {
        if (document.activeElement && document.activeElement !== document.body) return;
        const button = document.querySelector<HTMLButtonElement>(`[data-testid="projections"] button[aria-label="Rebuild ${CSS.escape(name)}"]`);
        (started.current || !button || button.disabled ? document.getElementById("rebuilds-title") : button)?.focus();
      });
    };
  }, [name]);
  return (
    <form className="panel" onSubmit={submit} aria-label={`Rebuild ${name}`} ref={formRef}>
      <h3>Rebuild {name}</h3>
      <p className="muted">
        The log is replayed into new tables while the current ones keep serving; they are swapped in when the replay has caught up.
        Writers wait only for the swap.
      </p>
      <ReasonField id="rebuild-reason" label="Reason (recorded in the audit log)" value={reason} onChange={setReason} issue={issue} />
      {start.isError && !issue ? <div className="alert error" role="alert">Could not start the rebuild: {start.error.message}</div> : null}
      <InlineFormActions submit="Start rebuild" sending="Starting…" pending={start.isPending} onClose={onClose} closeLabel="Back" />
    </form>
  );
}

export function ProjectionsPanel() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [asking, setAsking] = useState<string | null>(null);
  const [watching, setWatching] = useState<string[]>([]);
  const [flash, setFlash] = useState<string | null>(null);
  const list = useQuery(trpc.projections.list.queryOptions(undefined, { refetchInterval: 2_000 }));
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.projections.list.queryKey() });

  const running = list.data?.flatMap((p) => (p.rebuild ? [p.rebuild.id] : [])) ?? [];
  const shown = [...new Set([...watching, ...running])];

  return (
    <section className="panel" aria-labelledby="projections-title" data-testid="projections">
      <h2 id="projections-title">Projections</h2>
      <p className="muted">
        Read models built from the event log. Inline ones are written with each command; async ones by the projection runner. Any of
        them can be rebuilt from the log without stopping the console.
      </p>
      <Flash message={flash} onDismiss={() => setFlash(null)} />
      {list.isPending ? (
        <Loading label="Loading the projections" lines={["40%", "55%", "35%"]} />
      ) : list.isError ? (
        <ErrorState onRetry={() => void list.refetch()}>Could not load the projections: {list.error.message}</ErrorState>
      ) : list.data.length === 0 ? (
        <EmptyState>No projections are registered.</EmptyState>
      ) : (
        <table className="data card-rows">
          <TableHead columns={["Projection", "Status", "Checkpoint", "Lag", "Events/s", "Last error"]} actions />
          <tbody>
            {list.data.map((p) => {
              const state = stateLabel[p.state] ?? { label: p.state, badge: "info" };
              return (
                <tr key={p.name} data-testid={`projection-${p.name}`}>
                  <td>
                    <strong>{p.name}</strong> <span className="muted">({p.kind}, v{p.codeVersion})</span>
                    <div className="muted">{p.description}</div>
                  </td>
                  <td data-label="Status">
                    <span className={`badge ${state.badge}`} data-testid="projection-state">
                      {state.label}
                    </span>
                    {p.needsRebuild ? <div className="muted">built by v{p.builtVersion}</div> : null}
                  </td>
                  <td className="mono" data-label="Checkpoint">{p.checkpoint ? `${p.checkpoint.transactionId}/${p.checkpoint.globalPosition}` : "with each command"}</td>
                  <td data-label="Lag">{p.kind === "inline" ? "none" : p.lagEvents === 0 ? "caught up" : `${counted(p.lagEvents, "event")}, ${formatSpan(p.lagSeconds)}`}</td>
                  <td className="num" data-label="Events/s">{p.kind === "inline" ? "—" : count(p.eventsPerSecond)}</td>
                  <td data-label="Last error">
                    {p.lastError ? (
                      <>
                        <span className="mono">{p.lastError.message}</span>
                        {p.lastError.eventId ? (
                          <div>
                            at event <Link href={`/audit/events/${p.lastError.eventId}`} className="mono">{p.lastError.eventId.slice(0, 8)}</Link>
                          </div>
                        ) : null}
                      </>
                    ) : (
                      "—"
                    )}
                  </td>
                  <td>
                    <button
                      type="button"
                      className="secondary"
                      disabled={p.state === "rebuilding"}
                      title={p.state === "rebuild_stalled" ? "The rebuild under way reports no progress: starting again takes it over if its process has stopped" : undefined}
                      onClick={() => setAsking(p.name)}
                      aria-label={`Rebuild ${p.name}`}
                    >
                      Rebuild
                    </button>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {asking ? (
        <RebuildForm
          name={asking}
          onClose={() => setAsking(null)}
          onStarted={(id) => {
            setAsking(null);
            setWatching((w) => [...w, id]);
            void refresh();
          }}
        />
      ) : null}
      {shown.length > 0 ? (
        <h3 id="rebuilds-title" tabIndex={-1}>
          Rebuilds
        </h3>
      ) : null}
      {shown.map((id) => (
        <RebuildProgress
          key={id}
          rebuildId={id}
          onEnded={() => {
            setFlash("A rebuild ended; the projections table is up to date.");
            void refresh();
          }}
        />
      ))}
    </section>
  );
}
