"use client";
// Forgetting a patient (crypto-shredding): find them by MRN, see enough to be sure it is the
// right person, give the reason, type the MRN again and confirm. It cannot be undone: the
// patient's data key is destroyed and every field of PHI in their history reads "erased".
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import { TableHead } from "../DataTable";
import { EmptyState, ErrorState, Flash, Loading } from "../States";
import { DateTime } from "../DateTime";
import { useTRPC } from "../trpc";

const mrnPattern = /^[A-Z0-9]{6,12}$/;

function ErasureForm({ mrn, onDone }: { mrn: string; onDone: (message: string) => void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [reason, setReason] = useState("");
  const [confirmMrn, setConfirmMrn] = useState("");
  const [understood, setUnderstood] = useState(false);
  const found = useQuery({ ...trpc.admin.findPatientForErasure.queryOptions({ mrn }), retry: false });
  const erase = useMutation(
    trpc.admin.erasePatient.mutationOptions({
      onSuccess: async () => {
        onDone(
          found.data && found.data.eventsInClear > 0
            ? `The patient with MRN ${mrn} was erased: their chart and list rows are masked and their key destroyed. ${found.data.eventsInClear.toLocaleString()} of their events, written before encryption, remain readable.`
            : `The patient with MRN ${mrn} was erased. Their events remain; every field of their health information now reads "erased".`,
        );
        await queryClient.invalidateQueries({ queryKey: trpc.admin.erasures.queryKey() });
      },
    }),
  );
  if (found.isPending) return <Loading label="Looking up the patient" lines={["40%", "30%"]} />;
  if (found.isError) {
    return found.error.data?.code === "NOT_FOUND" ? (
      <EmptyState role="status">No patient has the MRN {mrn}.</EmptyState>
    ) : (
      <ErrorState onRetry={() => void found.refetch()}>Could not look the patient up: {found.error.message}</ErrorState>
    );
  }
  const p = found.data;
  if (p.erasedAt) return <div className="alert warn" role="status">This patient was already erased on <DateTime value={p.erasedAt} precision="minute" />.</div>;
  const ready = understood && confirmMrn.trim() === p.mrn && reason.trim().length >= 10;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (ready) erase.mutate({ patientId: p.patientId, confirmMrn: confirmMrn.trim(), reason: reason.trim() });
  };
  return (
    <form onSubmit={submit} aria-labelledby="erase-confirm-title" data-testid="erase-confirm">
      <h3 id="erase-confirm-title">Is this the patient?</h3>
      <dl className="facts">
        <dt>Name</dt>
        <dd>
          {p.givenName} {p.familyName}
        </dd>
        <dt>Date of birth</dt>
        <dd>{p.dateOfBirth}</dd>
        <dt>MRN</dt>
        <dd className="mono">{p.mrn}</dd>
        <dt>Registered</dt>
        <dd>
          <DateTime value={p.registeredAt} precision="minute" />
        </dd>
      </dl>
      <div className="alert warn" role="note">
        <p>
          <strong>This cannot be undone.</strong> The patient&apos;s data key is destroyed: their names, contact details, notes,
          orders and results become unreadable everywhere (charts, audit views, time travel, exports, backups), and their rows
          in the lists are masked. The events themselves stay, so the audit trail still verifies.
        </p>
      </div>
      {p.eventsInClear > 0 ? (
        <div className="alert warn" role="note" data-testid="erase-in-clear">
          <p>
            <strong>
              {p.eventsInClear === 1 ? "1 event" : `${p.eventsInClear.toLocaleString()} events`} of this patient&apos;s history{" "}
              {p.eventsInClear === 1 ? "was" : "were"} written before health information was encrypted.
            </strong>{" "}
            The erasure masks the chart and the lists and refuses anything new, but {p.eventsInClear === 1 ? "that event keeps its" : "those events keep their"}{" "}
            details readable in the audit views, in time travel and in the database. Removing them needs a decision outside this
            console (events are never rewritten).
          </p>
        </div>
      ) : null}
      {erase.isError ? (
        <div className="alert error" role="alert">
          Nothing was erased: {erase.error.message}
        </div>
      ) : null}
      <div className="field">
        <label htmlFor="erase-reason">Reason (kept in the audit trail, in clear: do not name the patient)</label>
        <textarea id="erase-reason" value={reason} onChange={(e) => setReason(e.target.value)} minLength={10} maxLength={500} required rows={3} />
        <span className="hint">10 to 500 characters, e.g. the reference of the erasure request.</span>
      </div>
      <div className="field">
        <label htmlFor="erase-confirm-mrn">Type the MRN again to confirm</label>
        <input id="erase-confirm-mrn" value={confirmMrn} onChange={(e) => setConfirmMrn(e.target.value.toUpperCase())} autoComplete="off" maxLength={12} />
      </div>
      <div className="field">
        <label>
          <input type="checkbox" checked={understood} onChange={(e) => setUnderstood(e.target.checked)} /> I understand that this
          patient&apos;s health information cannot be recovered afterwards
        </label>
      </div>
      <div className="actions">
        <button type="submit" className="danger" disabled={!ready || erase.isPending}>
          {erase.isPending ? "Erasing…" : "Erase this patient"}
        </button>
      </div>
    </form>
  );
}

export function ErasurePanel() {
  const trpc = useTRPC();
  const [term, setTerm] = useState("");
  const [mrn, setMrn] = useState<string | null>(null);
  const [flash, setFlash] = useState<string | null>(null);
  const erasures = useQuery(trpc.admin.erasures.queryOptions());
  const valid = mrnPattern.test(term.trim());
  return (
    <>
      <section className="panel" aria-labelledby="erase-title" data-testid="erasure">
        <h2 id="erase-title">Erase a patient</h2>
        <Flash message={flash} onDismiss={() => setFlash(null)} />
        <form
          className="row"
          onSubmit={(e) => {
            e.preventDefault();
            if (valid) {
              setFlash(null);
              setMrn(term.trim());
            }
          }}
        >
          <div className="field">
            <label htmlFor="erase-mrn">MRN</label>
            <input id="erase-mrn" value={term} onChange={(e) => setTerm(e.target.value.toUpperCase())} maxLength={12} autoComplete="off" />
            <span className="hint">6 to 12 letters or digits. Looking a patient up is recorded in the access log.</span>
          </div>
          <div className="actions">
            <button type="submit" className="secondary" disabled={!valid}>
              Find patient
            </button>
          </div>
        </form>
        {mrn ? (
          <ErasureForm
            key={mrn}
            mrn={mrn}
            onDone={(message) => {
              setMrn(null);
              setTerm("");
              setFlash(message);
            }}
          />
        ) : null}
      </section>
      <section className="panel" aria-labelledby="erasures-title" data-testid="erasures">
        <h2 id="erasures-title">Erasures</h2>
        {erasures.isPending ? (
          <Loading label="Loading the erasures" lines={["40%", "30%"]} />
        ) : erasures.isError ? (
          <ErrorState onRetry={() => void erasures.refetch()}>Could not load the erasures: {erasures.error.message}</ErrorState>
        ) : erasures.data.length === 0 ? (
          <EmptyState>No patient has been erased.</EmptyState>
        ) : (
          <table className="data">
            <TableHead columns={["When", "By", "Reason", "Patient id"]} />
            <tbody>
              {erasures.data.map((e) => (
                <tr key={e.eventId}>
                  <td>
                    <DateTime value={e.erasedAt} precision="minute" />
                  </td>
                  <td>{e.erasedBy}</td>
                  <td className="wrap">{e.reason}</td>
                  <td className="mono">{e.patientId}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </>
  );
}
