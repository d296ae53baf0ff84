"use client";
// The log's tamper evidence in the console: the newest signed seal (what every extract carries,
// with the public key an auditor verifies it with) and a "Verify integrity" button that runs the
// same verification as `npm run audit:verify`, with progress, and names the first mismatch.
// Sealing health: how far the seals reach, what waits for one, the sealers' last passes, and a
// warning when sealing is late or has stopped (and why, when a sealer said).
import { useMutation, useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { TableHead } from "../DataTable";
import { DateTime } from "../DateTime";
import { counted } from "../format";
import { ErrorState, Loading } from "../States";
import { useTRPC } from "../trpc";
import { errorText, type LatestSealData } from "./format";
import { notCovered } from "../../shared/audit/unhashed";
import { ageText, passText, sealingWarnings } from "../../shared/audit/sealingHealth";

export function IntegrityPanel() {
  return (
    <>
      <VerifyIntegrity />
      <SealingHealth />
      <LatestSeal />
      <ExportsMade />
    </>
  );
}

export function VerifyIntegrity() {
  const trpc = useTRPC();
  const [runId, setRunId] = useState<string | null>(null);
  const start = useMutation(trpc.audit.startVerification.mutationOptions({ onSuccess: (run) => setRunId(run.id) }));
  const run = useQuery({
    ...trpc.audit.verification.queryOptions({ id: runId ?? "00000000-0000-4000-8000-000000000000" }),
    enabled: runId !== null,
    // Poll while it runs.
    refetchInterval: (query) => (query.state.data?.finishedAt ? false : 500),
  });
  const data = run.data;
  const running = start.isPending || (runId !== null && !data?.finishedAt);
  return (
    <section className="panel" aria-labelledby="verify-title" data-testid="verify-integrity">
      <div className="panel-head">
        <h2 id="verify-title">Verify the log</h2>
        <button type="button" onClick={() => start.mutate()} disabled={running}>
          {running ? "Verifying…" : "Verify integrity"}
        </button>
      </div>
      {start.isError ? <ErrorState>The verification could not start: {errorText(start.error)}</ErrorState> : null}
      {running ? (
        <div role="status" aria-live="polite">
          <progress max={Math.max(1, data?.total ?? 0)} value={data?.done ?? 0} aria-label="Events rechained through the seals" />{" "}
          <span className="small muted">
            {data && data.total > 0 ? `${data.done.toLocaleString()} of ${data.total.toLocaleString()} sealed events rechained` : "Recomputing every event's hash…"}
          </span>
        </div>
      ) : null}
      {data?.finishedAt ? (
        data.error ? (
          <div className="state error" role="alert">
            {data.error}
          </div>
        ) : data.report ? (
          <div role="status" data-testid="verify-result" data-ok={data.report.ok}>
            {data.report.ok ? (
              <p className="verify-ok">
                <span className="badge ok">verified</span>{" "}
                {data.report.eventsWithoutHash > 0 ? "Every hashed event matches its hash" : "Every event matches its hash"} and every seal its events and
                signature.
              </p>
            ) : (
              <>
                <p className="verify-bad">
                  <span className="badge bad">does not verify</span> <strong data-testid="verify-first-problem">{data.report.firstProblem}</strong>
                </p>
                {data.report.problems.length > 1 ? (
                  <ul className="small">
                    {data.report.problems.slice(1, 10).map((p, i) => (
                      <li key={i}>{p.message}</li>
                    ))}
                  </ul>
                ) : null}
              </>
            )}
            {data.report.eventsWithoutHash > 0 ? (
              <p className="alert warn" data-testid="verify-unhashed">
                {notCovered(data.report.eventsWithoutHash)}.
              </p>
            ) : null}
            {data.witness ? <p className="small muted" data-testid="verify-witness">{data.witness}</p> : null}
            <p className="small muted">
              {counted(data.report.eventsChecked, "event")} ({data.report.eventsWithoutHash.toLocaleString()} from before hashing),{" "}
              {counted(data.report.streamsChecked, "stream")} and {counted(data.report.sealsChecked, "seal")} checked;{" "}
              {counted(data.report.eventsUnsealed, "event")} not sealed yet. Finished <DateTime value={data.finishedAt} />.
            </p>
          </div>
        ) : null
      ) : null}
    </section>
  );
}

/** Whether sealing keeps up: sealed through when, the backlog, each sealer's last pass, and what is wrong. */
export function SealingHealth() {
  const trpc = useTRPC();
  // The same query as the newest seal's panel; refreshed, since it is a live figure.
  const latest = useQuery({ ...trpc.audit.latestSeal.queryOptions(), refetchInterval: 30_000 });
  return (
    <section className="panel" aria-labelledby="sealing-title" data-testid="sealing-health">
      <h2 id="sealing-title">Sealing</h2>
      {latest.isPending ? (
        <Loading label="Loading the sealing status" lines={["50%", "70%"]} />
      ) : latest.isError ? (
        <ErrorState onRetry={() => void latest.refetch()}>The sealing status could not be loaded: {errorText(latest.error)}</ErrorState>
      ) : (
        <SealingFiguresView data={latest.data} />
      )}
    </section>
  );
}

function SealingFiguresView({ data }: { data: LatestSealData }) {
  const { backlog, sealers, lateAfterSeconds } = data;
  const warnings = sealingWarnings(data);
  return (
    <>
      {warnings.length > 0 ? (
        <div className="alert warn" role="alert" data-testid="sealing-warning">
          {warnings.map((w, i) => (
            <p key={i}>{w}.</p>
          ))}
        </div>
      ) : null}
      <p data-testid="sealed-through">
        {data.sealedThrough ? (
          <>
            Sealed through <DateTime value={data.sealedThrough} />
            {data.sealedAt ? (
              <span className="small muted">
                {" "}
                (newest seal signed <DateTime value={data.sealedAt} />)
              </span>
            ) : null}
          </>
        ) : data.seal ? (
          <>Sealed through commit position {data.seal.to}</>
        ) : (
          <>Nothing has been sealed yet.</>
        )}
      </p>
      <p data-testid="sealing-backlog" data-events={backlog.events}>
        {backlog.events === 0 ? (
          <>
            <span className="badge ok">up to date</span> No event is awaiting a seal.
          </>
        ) : (
          <>
            <span className={backlog.oldestSeconds > lateAfterSeconds ? "badge warn" : "badge info"}>
              {backlog.oldestSeconds > lateAfterSeconds ? "late" : "pending"}
            </span>{" "}
            {backlog.capped ? `${backlog.events.toLocaleString("en-US")}+ events` : counted(backlog.events, "event")} awaiting a seal, oldest{" "}
            {ageText(backlog.oldestSeconds)}.
          </>
        )}
      </p>
      {sealers.length === 0 ? (
        <p className="muted" data-testid="sealer-passes-empty">
          No sealer has reported a pass in the last day.
        </p>
      ) : (
        <table className="data dense" data-testid="sealer-passes">
          <TableHead columns={["Process", "Last pass", "Outcome", "Last sealed"]} />
          <tbody>
            {sealers.map((p) => (
              <tr key={p.processId} data-testid="sealer-pass" data-outcome={p.outcome}>
                <td className="mono small">{p.processId}</td>
                <td className="nowrap">
                  <DateTime value={p.lastPassAt} /> <span className="small muted">({ageText(p.ageSeconds)} ago)</span>
                </td>
                <td>
                  <span className={p.outcome === "sealed" || p.outcome === "idle" ? "badge ok" : "badge bad"}>{p.outcome}</span>{" "}
                  <span className="small">{passText(p)}</span>
                </td>
                <td className="nowrap">{p.lastSealedAt ? <DateTime value={p.lastSealedAt} /> : "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <p className="small muted">
        Sealing is late when an event waits longer than {ageText(lateAfterSeconds)} for a seal, or no sealer reports a pass within it.
      </p>
    </>
  );
}

export function LatestSeal({ compact = false }: { compact?: boolean }) {
  const trpc = useTRPC();
  const latest = useQuery(trpc.audit.latestSeal.queryOptions());
  if (latest.isPending) return <Loading label="Loading the newest seal" lines={["60%"]} />;
  if (latest.isError) return <ErrorState onRetry={() => void latest.refetch()}>The newest seal could not be loaded: {errorText(latest.error)}</ErrorState>;
  const { seal, keyId, publicKey, earlierKeys } = latest.data;
  return (
    <section className={compact ? "seal-box" : "panel"} aria-labelledby="seal-title" data-testid="latest-seal">
      <h2 id="seal-title">Newest seal</h2>
      {seal ? (
        <dl className="facts small">
          <dt>Seal</dt>
          <dd>number {seal.seq}, covering the log up to commit position {seal.to}</dd>
          <dt>Chain hash</dt>
          <dd className="mono wrap">{seal.chainHash}</dd>
          <dt>Signed by key</dt>
          <dd className="mono">{seal.keyId}{keyId && keyId !== seal.keyId ? " (not this server's current key)" : ""}</dd>
          <dt>Signature</dt>
          <dd className="mono wrap">{seal.signature}</dd>
        </dl>
      ) : (
        <p className="muted">Nothing has been sealed yet: the sealer runs with the background work every few seconds.</p>
      )}
      {publicKey && !compact ? (
        <details>
          <summary>Public key (for auditors){keyId ? <>: <span className="mono">{keyId}</span></> : null}</summary>
          <pre className="mono small">{publicKey}</pre>
        </details>
      ) : null}
      {earlierKeys.length > 0 && !compact ? (
        <details data-testid="earlier-keys">
          <summary>
            Earlier public keys (seals signed before a key rotation): <span className="mono">{earlierKeys.map((k) => k.keyId).join(", ")}</span>
          </summary>
          {earlierKeys.map((k) => (
            <div key={k.keyId}>
              <p className="small">
                Key <span className="mono">{k.keyId}</span>
              </p>
              <pre className="mono small">{k.publicKey}</pre>
            </div>
          ))}
        </details>
      ) : null}
    </section>
  );
}

function filterText(filter: Record<string, unknown>): string {
  const parts = Object.entries(filter).map(([k, v]) => `${k} = ${Array.isArray(v) ? v.join(", ") : String(v)}`);
  return parts.length ? parts.join(" · ") : "everything (no filter)";
}

/** Every extract handed out: who, when, which view and filter, the format, the seal it carried and its digest. */
export function ExportsMade() {
  const trpc = useTRPC();
  const [cursors, setCursors] = useState<({ at: Date; id: string } | undefined)[]>([undefined]);
  const last = cursors.at(-1);
  const page = useQuery(trpc.audit.exports.queryOptions({ before: last, limit: 25 }));
  return (
    <section className="panel" aria-labelledby="exports-title" data-testid="exports-made">
      <h2 id="exports-title">Extracts handed out</h2>
      {page.isPending ? (
        <Loading label="Loading the extracts" lines={["70%", "50%"]} />
      ) : page.isError ? (
        <ErrorState onRetry={() => void page.refetch()}>The extracts could not be loaded: {errorText(page.error)}</ErrorState>
      ) : page.data.items.length === 0 ? (
        <p className="muted">No extract has been made{cursors.length > 1 ? " before these" : ""}.</p>
      ) : (
        <table className="data dense">
          <TableHead columns={["When", "Who", "View", "Filter", "Format", "Seal", "SHA-256"]} />
          <tbody>
            {page.data.items.map((x) => (
              <tr key={x.id} data-testid="export-made">
                <td className="nowrap">
                  <DateTime value={x.exportedAt} />
                </td>
                <td>{x.userName ?? x.userId}</td>
                <td>{x.view}</td>
                <td className="small wrap">{filterText(x.filter)}</td>
                <td>{x.format.toUpperCase()}</td>
                <td>{x.sealSeq ?? "—"}</td>
                <td className="small" data-testid="export-digest">
                  {/* What a copy's bytes must hash to (README, "Verifying an extract"); none: the download never finished. */}
                  {x.sha256 ? <span className="mono" title={x.sha256}>{x.sha256.slice(0, 16)}…</span> : "not finished"}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <div className="actions">
        {cursors.length > 1 ? (
          <button type="button" className="secondary small" onClick={() => setCursors((c) => c.slice(0, -1))}>
            Newer
          </button>
        ) : null}
        {page.data?.nextBefore ? (
          <button type="button" className="secondary small" onClick={() => setCursors((c) => [...c, page.data!.nextBefore!])}>
            Older
          </button>
        ) : null}
      </div>
    </section>
  );
}
