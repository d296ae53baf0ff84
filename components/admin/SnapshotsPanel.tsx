"use client";
// Snapshots as an operator sees them: how many, of which state version, how much space, and which
// ones this build never reads (written before a state version bump: dead weight). A check compares
// a sample with a fold of their events; a discard deletes them, with a reason, in the audit log.
// Only figures, stream ids and versions reach the browser: a snapshot's state is sealed PHI.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState, type FormEvent } from "react";
import { TableHead } from "../DataTable";
import { EmptyState, ErrorState, Flash, Loading } from "../States";
import { DateTime } from "../DateTime";
import { counted, formatBytes, humanize } from "../format";
import { useTRPC } from "../trpc";
import { ReasonField } from "../forms/ReasonField";
import { InlineFormActions } from "../clinical/form";
import { useSingleFlight } from "../useSingleFlight";
import { backfillSummary, checkSummary, chosenType, snapshotTypes, type BackfillTotals, type TypeFigures, type Which } from "./snapshotFigures";

/** What a discard does to loads and to time travel: said before the admin confirms. */
function discardMeaning(which: Which, type: TypeFigures): string {
  if (which === "stale" || type.foldedWith === null) {
    return type.foldedWith === null
      ? "No code of this build folds this type: nothing reads these snapshots, and loads are unchanged."
      : `Only snapshots of state versions other than ${type.foldedWith} go: this build never reads them, so loads and time travel are unchanged.`;
  }
  return "Every snapshot of this type goes: loads fold each record from its events (slower) until the record crosses the next snapshot interval and a new one is written, and time travel to older versions loses its historic snapshots and folds from the first event. No record changes: snapshots are only a cache.";
}

function DiscardForm({ types, onDone, onClose }: { types: TypeFigures[]; onDone: (message: string) => void; onClose: () => void }) {
  const trpc = useTRPC();
  const [aggregateType, setAggregateType] = useState(types.find((t) => t.stale > 0)?.aggregateType ?? types[0]?.aggregateType ?? "");
  // Null once the chosen type's snapshots are gone (discarded by another admin since): the form
  // says so and sends nothing, rather than offer the next type under the reason typed for this one.
  const type = chosenType(types, aggregateType);
  const [which, setWhich] = useState<Which>(type && type.stale > 0 ? "stale" : "all");
  const [reason, setReason] = useState("");
  const discard = useMutation(trpc.admin.discardSnapshots.mutationOptions());
  const once = useSingleFlight();
  const count = type === null ? 0 : which === "stale" ? type.stale : type.total;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (type === null) return;
    once(async () => {
      const { discarded, bytes } = await discard.mutateAsync({ aggregateType: type.aggregateType, which, reason });
      onDone(
        discarded === 0
          ? `No ${humanize(type.aggregateType).toLowerCase()} snapshots were left to discard (another admin may have discarded them). Nothing was recorded.`
          : `${counted(discarded, "snapshot")} of ${type.aggregateType} records discarded (${formatBytes(bytes)}). Recorded in the audit log.`,
      );
    });
  };
  const issue = discard.error?.data?.issues?.find((i) => i.path === "reason")?.message;
  const formRef = useRef<HTMLFormElement>(null);
  useEffect(() => formRef.current?.querySelector("select")?.focus(), []);
  return (
    <form className="panel stack" onSubmit={submit} aria-label="Discard snapshots" ref={formRef} data-testid="discard-snapshots-form">
      <h3>Discard snapshots</h3>
      <div className="field">
        <label htmlFor="discard-type">Aggregate type</label>
        <select
          id="discard-type"
          value={aggregateType}
          onChange={(e) => {
            const next = types.find((t) => t.aggregateType === e.target.value);
            setAggregateType(e.target.value);
            if (next && next.stale === 0) setWhich("all");
          }}
        >
          {type === null ? <option value={aggregateType}>{aggregateType} (none left)</option> : null}
          {types.map((t) => (
            <option key={t.aggregateType} value={t.aggregateType}>
              {t.aggregateType} ({counted(t.total, "snapshot")})
            </option>
          ))}
        </select>
      </div>
      {type === null ? (
        <p className="alert warn" role="alert" data-testid="discard-gone">
          No {aggregateType} snapshots are left (another admin may have discarded them): nothing to discard. Choose another type, or go back.
        </p>
      ) : (
        <>
          <fieldset className="choices">
            <legend>Which</legend>
            <div className="choice-row">
              <label className="choice">
                <input type="radio" name="discard-which" value="stale" checked={which === "stale"} disabled={type.stale === 0} onChange={() => setWhich("stale")} />
                Not used by this build ({counted(type.stale, "snapshot")}, {formatBytes(type.staleBytes)})
              </label>
              <label className="choice">
                <input type="radio" name="discard-which" value="all" checked={which === "all"} onChange={() => setWhich("all")} />
                All of this type ({counted(type.total, "snapshot")})
              </label>
            </div>
          </fieldset>
          <p className={`alert ${which === "all" && type.foldedWith !== null ? "warn" : "ok"}`} data-testid="discard-meaning">
            {discardMeaning(which, type)} This cannot be undone.
          </p>
        </>
      )}
      <ReasonField id="discard-reason" label="Reason (recorded in the audit log; no patient details)" value={reason} onChange={setReason} issue={issue} />
      {discard.isError && !issue ? (
        <div className="alert error" role="alert">
          Could not discard: {discard.error.message}
        </div>
      ) : null}
      <InlineFormActions submit={`Discard ${counted(count, "snapshot")}`} sending="Discarding…" pending={discard.isPending} disabled={count === 0} danger onClose={onClose} closeLabel="Back" />
    </form>
  );
}

function CheckResults({ sample, results }: { sample: number; results: { aggregateType: string; stateVersion: number; checked: number; matched: number; unopenable: number; mismatches: { streamId: string; version: number }[] }[] }) {
  const bad = results.reduce((n, r) => n + r.mismatches.length, 0);
  const summary = checkSummary(results);
  return (
    <div data-testid="snapshot-check" role="status">
      <p className={`alert ${summary.tone}`}>
        {summary.text} The newest {sample} of each type at the version this build folds with.
      </p>
      <table className="data">
        <TableHead columns={["Aggregate type", "State version", "Checked", "Match", "Cannot be opened", "Differ"]} />
        <tbody>
          {results.map((r) => (
            <tr key={r.aggregateType}>
              <td>{r.aggregateType}</td>
              <td className="num">{r.stateVersion}</td>
              <td className="num">{r.checked}</td>
              <td className="num">{r.matched}</td>
              <td className="num" title="Sealed under an erased patient's key, or not sealed for its stream and version (altered, moved, or written before snapshots were bound to their place): loads fold the events instead">
                {r.unopenable}
              </td>
              <td className="num">
                <span className={`badge ${r.mismatches.length > 0 ? "bad" : "ok"}`}>{r.mismatches.length}</span>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {bad > 0 ? (
        <ul className="mono" aria-label="Snapshots that differ">
          {results.flatMap((r) =>
            r.mismatches.map((m) => (
              <li key={`${m.streamId}@${m.version}`}>
                {m.streamId} at version {m.version}
              </li>
            )),
          )}
        </ul>
      ) : null}
    </div>
  );
}

type BackfillRun = BackfillTotals & { running: boolean };

/**
 * "Write them": admin.writeHistoricSnapshots batch after batch (each about two seconds of work,
 * from where the last stopped), with how far it got; Stop ends it after the current batch.
 */
function HistoricBackfill({ missing, onDone }: { missing: number; onDone: (message: string) => void }) {
  const trpc = useTRPC();
  const write = useMutation(trpc.admin.writeHistoricSnapshots.mutationOptions());
  const [run, setRun] = useState<BackfillRun | null>(null);
  const [error, setError] = useState<string | null>(null);
  const stopping = useRef(false);
  const running = run?.running === true;
  // Leaving the page stops it after the current batch, as Stop does (writing them again carries on).
  useEffect(
    () => () => {
      stopping.current = true;
    },
    [],
  );

  async function start() {
    if (running) return;
    stopping.current = false;
    setError(null);
    let totals = { streams: 0, written: 0, stillMissing: 0, total: missing };
    setRun({ ...totals, running: true });
    let after: string | undefined;
    try {
      for (;;) {
        const batch = await write.mutateAsync(after ? { after } : {});
        const streams = totals.streams + batch.streams;
        totals = { streams, written: totals.written + batch.snapshotsWritten, stillMissing: totals.stillMissing + batch.stillMissing, total: Math.max(totals.total, streams) };
        setRun({ ...totals, running: true });
        if (!batch.more || batch.lastStreamId === null || stopping.current) {
          setRun(null);
          onDone(backfillSummary(totals, batch.more && stopping.current));
          return;
        }
        after = batch.lastStreamId;
      }
    } catch (e) {
      setRun({ ...totals, running: false });
      setError(e instanceof Error ? e.message : String(e));
    }
  }

  return (
    <>
      <span className="badge warn">
        {counted(missing, "record")} {missing === 1 ? "lacks" : "lack"} them
      </span>{" "}
      (imported, or grown before they were kept: a load at an old version folds from the first event).{" "}
      <span className="actions inline">
        <button type="button" className="secondary" disabled={running} onClick={() => void start()}>
          {running ? "Writing…" : "Write them"}
        </button>
        {running ? (
          <button type="button" className="link" onClick={() => (stopping.current = true)}>
            Stop
          </button>
        ) : null}
      </span>{" "}
      <span className="muted">(or <code>npm run snapshots:historic</code> on a server)</span>
      {run ? (
        <span className="progress-line" data-testid="historic-progress">
          <progress max={Math.max(1, run.total)} value={run.streams} aria-label="Records given their historic snapshots" />{" "}
          {run.streams.toLocaleString("en-US")} of {run.total.toLocaleString("en-US")} records, {counted(run.written, "snapshot")} written
        </span>
      ) : null}
      {error ? (
        <span className="alert error progress-line" role="alert">
          Could not write them: {error}
        </span>
      ) : null}
    </>
  );
}

export function SnapshotsPanel() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [flash, setFlash] = useState<string | null>(null);
  const [discarding, setDiscarding] = useState(false);
  // The figures scan the table: a minute apart while the page is open, not every few seconds.
  const snapshots = useQuery(trpc.admin.snapshots.queryOptions(undefined, { refetchInterval: 60_000 }));
  const check = useMutation(trpc.admin.checkSnapshots.mutationOptions({ onMutate: () => setFlash(null) }));
  const once = useSingleFlight();

  const types: TypeFigures[] = snapshots.data ? snapshotTypes(snapshots.data.groups, snapshots.data.foldedWith) : [];
  const deadWeight = types.reduce((n, t) => n + t.staleBytes, 0);

  return (
    <section className="panel" aria-labelledby="snapshots-title" data-testid="snapshots">
      <h2 id="snapshots-title" tabIndex={-1}>
        Snapshots
      </h2>
      <p className="muted">
        A snapshot is a record&apos;s folded state at a version, so a load reads it and the events after it instead of every
        event. It is only a cache: a load with or without it gives the same state. Snapshots written by another state version
        (before the state&apos;s shape changed) are never read by this build.
      </p>
      <Flash message={flash} onDismiss={() => setFlash(null)} />
      {snapshots.isPending ? (
        <Loading label="Loading the snapshots" lines={["35%", "60%", "50%"]} />
      ) : snapshots.isError ? (
        <ErrorState onRetry={() => void snapshots.refetch()}>Could not load the snapshots: {snapshots.error.message}</ErrorState>
      ) : (
        <>
          <dl className="facts">
            <dt>Written every</dt>
            <dd data-testid="snapshot-every">{snapshots.data.snapshotEvery.toLocaleString("en-US")} events of a record</dd>
            <dt>This build folds</dt>
            <dd>{snapshots.data.foldedWith.map((f) => `${f.aggregateType} v${f.stateVersion}`).join(", ")}</dd>
            <dt>Historic snapshots</dt>
            <dd data-testid="historic-snapshots">
              one per {snapshots.data.historicEvery.toLocaleString("en-US")} versions of a record, for time travel;{" "}
              {snapshots.data.streamsMissingHistoric === 0 ? (
                <span className="badge ok">no record lacks them</span>
              ) : (
                <HistoricBackfill
                  missing={snapshots.data.streamsMissingHistoric}
                  onDone={(message) => {
                    setFlash(message);
                    void queryClient.invalidateQueries({ queryKey: trpc.admin.snapshots.queryKey() });
                  }}
                />
              )}
            </dd>
            <dt>Not used by this build</dt>
            <dd>
              <span className={`badge ${deadWeight > 0 ? "warn" : "ok"}`}>{formatBytes(deadWeight)}</span>
            </dd>
          </dl>
          {snapshots.data.groups.length === 0 ? (
            <EmptyState testId="snapshots-empty">No snapshots yet: one is written when a record crosses a multiple of {snapshots.data.snapshotEvery} events.</EmptyState>
          ) : (
            <table className="data" data-testid="snapshot-groups">
              <TableHead columns={["Aggregate type", "State version", "Snapshots", "Records", "Size", "Newest", "Oldest"]} />
              <tbody>
                {snapshots.data.groups.map((g) => (
                  <tr key={`${g.aggregateType}:${g.stateVersion}`}>
                    <td>{g.aggregateType}</td>
                    <td>
                      v{g.stateVersion}{" "}
                      <span className={`badge ${g.used ? "ok" : "warn"}`}>{g.used ? "used by this build" : "not used by this build"}</span>
                    </td>
                    <td className="num">{g.snapshots.toLocaleString("en-US")}</td>
                    <td className="num">{g.streams.toLocaleString("en-US")}</td>
                    <td className="num">{formatBytes(g.bytes)}</td>
                    <td>
                      <DateTime value={g.newestAt} precision="minute" />
                    </td>
                    <td>
                      <DateTime value={g.oldestAt} precision="minute" />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          <div className="actions">
            <button
              type="button"
              className="secondary"
              disabled={check.isPending || snapshots.data.groups.length === 0}
              onClick={() => once(() => check.mutateAsync({ sample: 50 }))}
            >
              {check.isPending ? "Checking…" : "Check the newest 50 of each type against their events"}
            </button>
            <button
              type="button"
              className="secondary"
              disabled={types.length === 0}
              aria-expanded={discarding}
              onClick={() => {
                setFlash(null);
                setDiscarding(true);
              }}
            >
              Discard snapshots…
            </button>
          </div>
          {check.isError ? (
            <div className="alert error" role="alert">
              Could not check: {check.error.message}
            </div>
          ) : null}
          {check.data ? <CheckResults sample={check.data.sample} results={check.data.results} /> : null}
          {discarding && types.length > 0 ? (
            <DiscardForm
              types={types}
              onClose={() => setDiscarding(false)}
              onDone={(message) => {
                setDiscarding(false);
                setFlash(message);
                check.reset();
                void queryClient.invalidateQueries({ queryKey: trpc.admin.snapshots.queryKey() });
                requestAnimationFrame(() => document.getElementById("snapshots-title")?.focus());
              }}
            />
          ) : null}
        </>
      )}
    </section>
  );
}
