"use client";
// "This patient is not in your care": the chart of a patient with no encounter, order or
// registration of the clinician's opens only after they state why (break the glass). The reason
// is recorded and reviewed by compliance; the access then holds for a few hours.
import { useMutation } from "@tanstack/react-query";
import Link from "next/link";
import { useEffect, useRef, useState, type FormEvent } from "react";
import { useTRPC } from "@/components/trpc";
import { useSingleFlight } from "@/components/useSingleFlight";
import { readError } from "./errors";

/** Whether a chart query was refused for want of a reason. */
export function needsBreakGlass(error: unknown): boolean {
  return readError(error).domain?.kind === "break_the_glass";
}

const MIN = 10;
const MAX = 500;

export function BreakGlassDialog({ patientId, onGranted }: { patientId: string; onGranted: () => void }) {
  const trpc = useTRPC();
  const dialog = useRef<HTMLDialogElement>(null);
  const [reason, setReason] = useState("");
  const grant = useMutation(trpc.patient.breakGlass.mutationOptions({ onSuccess: () => onGranted() }));
  // A double-click recorded two emergency accesses (the server now answers the live grant too).
  const once = useSingleFlight();
  useEffect(() => {
    const d = dialog.current;
    if (d && !d.open) d.showModal();
  }, []);
  const length = reason.trim().length;
  const error = grant.isError ? readError(grant.error) : null;

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (length < MIN) return;
    once(() => grant.mutateAsync({ patientId, reason }));
  }

  return (
    <dialog ref={dialog} className="glass" aria-labelledby="glass-title" aria-describedby="glass-text" data-testid="break-glass" onCancel={(e) => e.preventDefault()}>
      <form onSubmit={submit}>
        <h2 id="glass-title">This patient is not in your care</h2>
        <p id="glass-text">
          You have no encounter or order with this patient and did not register them. To open the chart, say why you need it. Your reason is
          recorded with your name and reviewed by compliance; the chart then stays open to you for a few hours.
        </p>
        <div className="field">
          <label htmlFor="glass-reason">Reason for access</label>
          <textarea
            id="glass-reason"
            name="reason"
            rows={3}
            maxLength={MAX}
            required
            value={reason}
            onChange={(e) => setReason(e.target.value)}
            aria-describedby="glass-hint"
            autoFocus
          />
          <span id="glass-hint" className="hint">
            At least {MIN} characters ({length}/{MAX}).
          </span>
        </div>
        {error ? (
          <p className="alert error" role="alert">
            {error.fieldErrors.reason ?? error.message}
          </p>
        ) : null}
        <div className="actions">
          <button type="submit" disabled={length < MIN || grant.isPending}>
            {grant.isPending ? "Recording…" : "Record reason and open the chart"}
          </button>
          <Link className="button secondary" href="/patients">
            Back to patients
          </Link>
        </div>
      </form>
    </dialog>
  );
}
