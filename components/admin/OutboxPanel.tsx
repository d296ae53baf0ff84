"use client";
// The outbox as an operator sees it: how much is waiting and for how long, what is being
// retried, and the dead letters, each of which can be put back in line or, when it can never
// succeed, set aside (with a reason) so that the later events of its record go on.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState, type FormEvent } from "react";
import { TableHead } from "../DataTable";
import { EmptyState, ErrorState, Flash, Loading } from "../States";
import { DateTime } from "../DateTime";
import { eventTitle } from "../format";
import { useTRPC } from "../trpc";
import { ReasonField } from "../forms/ReasonField";
import { InlineFormActions } from "../clinical/form";
import { useSingleFlight } from "../useSingleFlight";

function formatLag(seconds: number): string {
  if (seconds < 1) return "none";
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172_800) return `${Math.round(seconds / 3600)} h`;
  return `${Math.round(seconds / 86_400)} days`;
}

type Letter = { id: number; eventType: string; eventId: string; stage: "handlers" | "bus"; holding: number };

/** What setting a letter aside means, in its stage: said before the admin confirms. */
function setAsideMeaning(letter: Letter): string {
  return letter.stage === "handlers"
    ? "The in-process handlers will not run for this event (what they do for it, such as raising a critical-result flag, must be done by hand). It goes on to the message bus, and the later events of its record after it."
    : "This event will never be published: consumers of the message bus will not receive it (tell the teams that consume it). The later events of its record go out.";
}

function SetAsideForm({ letter, onDone, onClose }: { letter: Letter; onDone: (message: string) => void; onClose: () => void }) {
  const trpc = useTRPC();
  const [reason, setReason] = useState("");
  const setAside = useMutation(trpc.admin.setAsideDeadLetter.mutationOptions());
  const once = useSingleFlight();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    once(async () => {
      // The stage whose meaning the form shows: a letter that failed in the other since is refused.
      await setAside.mutateAsync({ id: letter.id, stage: letter.stage, reason });
      const after = letter.holding === 1 ? "; the later event of its record goes on" : letter.holding > 1 ? `; the ${letter.holding.toLocaleString("en-US")} later events of its record go on` : "";
      onDone(`Dead letter ${letter.id} is set aside${letter.stage === "handlers" ? " and goes on to the message bus without the handlers" : ", never published"}${after}. Recorded in the audit log.`);
    });
  };
  const issue = setAside.error?.data?.issues?.find((i) => i.path === "reason")?.message;
  // The form opens under the table: its reason takes the focus.
  const formRef = useRef<HTMLFormElement>(null);
  useEffect(() => formRef.current?.querySelector("textarea")?.focus(), []);
  return (
    <form className="panel" onSubmit={submit} aria-label={`Set aside dead letter ${letter.id}`} ref={formRef} data-testid="set-aside-form">
      <h3>
        Set aside dead letter {letter.id}: {eventTitle(letter.eventType)} <span className="mono muted">{letter.eventId.slice(0, 8)}</span>
      </h3>
      <p className="alert warn" data-testid="set-aside-meaning">
        {setAsideMeaning(letter)} This cannot be undone.
      </p>
      <ReasonField id="set-aside-reason" label="Reason (recorded in the audit log; no patient details)" value={reason} onChange={setReason} issue={issue} />
      {setAside.isError && !issue ? <div className="alert error" role="alert">Could not set it aside: {setAside.error.message}</div> : null}
      <InlineFormActions submit="Set aside" sending="Setting aside…" pending={setAside.isPending} danger onClose={onClose} closeLabel="Back" />
    </form>
  );
}

export function OutboxPanel() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [flash, setFlash] = useState<string | null>(null);
  const [settingAside, setSettingAside] = useState<Letter | null>(null);
  const outbox = useQuery(trpc.admin.outbox.queryOptions(undefined, { refetchInterval: 5_000 }));
  const retry = useMutation(
    trpc.admin.retryDeadLetter.mutationOptions({
      // A retry's answer replaces the last one's: a success and a failure never show together.
      onMutate: () => setFlash(null),
      onSuccess: async ({ id }) => {
        const holding = outbox.data?.deadLetters.find((row) => row.id === id)?.holding ?? 0;
        const after = holding === 1 ? ", then the later event of its record waiting behind it" : holding > 1 ? `, then the ${holding.toLocaleString("en-US")} later events of its record waiting behind it` : "";
        setFlash(`Dead letter ${id} is back in line: the worker will try it again${after}.`);
        await queryClient.invalidateQueries({ queryKey: trpc.admin.outbox.queryKey() });
        // Its row (and the button that had focus) is gone: the list's heading takes the focus
        // rather than the page's top, so the next letter is a Tab away.
        requestAnimationFrame(() => {
          if (!document.activeElement || document.activeElement === document.body) document.getElementById("dead-letters-title")?.focus();
        });
      },
    }),
  );
  // A double-click sent the retry twice: the first put the letter back in line, the second was
  // refused as no longer dead, and both answers showed at once.
  const once = useSingleFlight();

  return (
    <section className="panel" id="outbox" aria-labelledby="outbox-title" data-testid="outbox">
      <h2 id="outbox-title">Outbox</h2>
      <p className="muted">
        Every appended event waits here until the worker has handed it to the in-process handlers (at once, even when the
        message bus is down) and then to the message bus, each patient&apos;s or order&apos;s events in the order they
        happened. Delivery is at least once; after five failed tries an event is dead-lettered, and the later events of its
        record wait behind it until it is retried or, if it can never succeed, set aside.
      </p>
      <Flash message={flash} onDismiss={() => setFlash(null)} />
      {retry.isError ? <div className="alert error" role="alert">Could not retry: {retry.error.message}</div> : null}
      {outbox.isPending ? (
        <Loading label="Loading the outbox" lines={["30%", "45%", "25%"]} />
      ) : outbox.isError ? (
        <ErrorState onRetry={() => void outbox.refetch()}>Could not load the outbox: {outbox.error.message}</ErrorState>
      ) : (
        <>
          <dl className="facts">
            <dt>Waiting</dt>
            <dd data-testid="outbox-pending">{outbox.data.pending.toLocaleString("en-US")}</dd>
            <dt>Oldest waiting for</dt>
            <dd>
              <span className={`badge ${outbox.data.lagSeconds > 60 ? "warn" : "ok"}`}>{formatLag(outbox.data.lagSeconds)}</span>
            </dd>
            <dt>Being retried</dt>
            <dd>{outbox.data.retrying.toLocaleString("en-US")}</dd>
            <dt>Dead letters</dt>
            <dd>
              <span className={`badge ${outbox.data.deadLettered > 0 ? "bad" : "ok"}`}>{outbox.data.deadLettered.toLocaleString("en-US")}</span>
            </dd>
            <dt>Held behind a dead letter</dt>
            <dd data-testid="outbox-held">
              <span className={`badge ${outbox.data.heldBehindDeadLetters > 0 ? "warn" : "ok"}`}>
                {outbox.data.heldBehindDeadLetters.toLocaleString("en-US")}
              </span>
            </dd>
          </dl>
          <h3 id="dead-letters-title" tabIndex={-1}>
            Latest dead letters
          </h3>
          {outbox.data.deadLetters.length === 0 ? (
            <EmptyState>No dead letters.</EmptyState>
          ) : (
            <table className="data">
              <TableHead columns={["Dead-lettered", "Event", "Failed in", "Holding", "Tries", "Last error"]} actions />
              <tbody>
                {outbox.data.deadLetters.map((row) => (
                  <tr key={row.id}>
                    <td>
                      <DateTime value={row.deadLetteredAt} precision="minute" />
                    </td>
                    <td>
                      {eventTitle(row.eventType)} <span className="mono muted">{row.eventId.slice(0, 8)}</span>
                    </td>
                    <td>{row.stage === "bus" ? "Message bus" : "In-process handlers"}</td>
                    <td className="num" title="Later events of the same record waiting behind it">
                      {row.holding === 0 ? "—" : `${row.holding.toLocaleString("en-US")} later`}
                    </td>
                    <td className="num">{row.attempts}</td>
                    <td className="mono">{row.lastError ?? "—"}</td>
                    <td>
                      <div className="actions">
                        <button
                          type="button"
                          className="secondary"
                          disabled={retry.isPending}
                          onClick={() => once(() => retry.mutateAsync({ id: row.id }))}
                          aria-label={`Retry dead letter ${row.id}`}
                        >
                          Retry
                        </button>
                        <button
                          type="button"
                          className="secondary"
                          onClick={() => {
                            setFlash(null);
                            setSettingAside(row);
                          }}
                          aria-label={`Set aside dead letter ${row.id}`}
                          aria-expanded={settingAside?.id === row.id}
                        >
                          Set aside…
                        </button>
                      </div>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {settingAside ? (
            <SetAsideForm
              key={settingAside.id}
              letter={settingAside}
              onClose={() => {
                const id = settingAside.id;
                setSettingAside(null);
                requestAnimationFrame(() => document.querySelector<HTMLButtonElement>(`button[aria-label="Set aside dead letter ${id}"]`)?.focus());
              }}
              onDone={(message) => {
                setSettingAside(null);
                setFlash(message);
                void queryClient.invalidateQueries({ queryKey: trpc.admin.outbox.queryKey() });
                requestAnimationFrame(() => document.getElementById("dead-letters-title")?.focus());
              }}
            />
          ) : null}
        </>
      )}
    </section>
  );
}
