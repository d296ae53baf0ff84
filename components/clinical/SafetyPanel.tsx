"use client";
// The chart's allergies and alerts: record one, mark an allergy refuted or resolved, resolve an
// alert (each with a reason), record "no known allergies". Forms over the shared schemas.
import { useMutation } from "@tanstack/react-query";
import { useState } from "react";
import { z } from "zod";
import { label } from "@/components/format";
import { errorOf, useSchemaForm } from "@/components/forms/useSchemaForm";
import { useTRPC } from "@/components/trpc";
import {
  activeAlerts,
  alertFormSchema,
  alertKinds,
  allergyFormSchema,
  allergyReasonSchema,
  allergySeverities,
  allergySources,
  allergySubstances,
  type Allergy,
  type PatientSafety,
} from "@/shared/clinical/safety";
import { friendlyMessage, isRefusal, readError } from "./errors";
import { Field, FormError, InlineFormActions, Options, fieldProps, type InlineFormProps } from "./form";
import { useChartRefresh } from "./useChartRefresh";

type Open = { kind: "allergy" } | { kind: "alert" } | { kind: "close-allergy"; id: string; outcome: "refuted" | "resolved" } | { kind: "resolve-alert"; id: string } | null;

/** `erased`: nothing more can be recorded about the patient, so nothing is offered. */
export function SafetyPanel({ patientId, safety, erased, onDone }: { patientId: string; safety: PatientSafety; erased: boolean; onDone: (message: string) => void }) {
  const [open, setOpen] = useState<Open>(null);
  const trpc = useTRPC();
  const refresh = useChartRefresh(patientId);
  const [error, setError] = useState<string | null>(null);
  const noneKnown = useMutation(
    trpc.patient.recordNoKnownAllergies.mutationOptions({
      onSuccess: async () => {
        await refresh();
        onDone("Recorded: no known allergies.");
      },
      onError: (e) => {
        const error = readError(e);
        setError(friendlyMessage(error));
        // Refused for the chart as it is now (an allergy recorded elsewhere): show what it is.
        if (isRefusal(error)) void refresh();
      },
    }),
  );
  const done = (message: string) => {
    setOpen(null);
    onDone(message);
  };
  const close = () => setOpen(null);
  const active = safety.allergies.filter((a) => a.status === "active");
  const closed = safety.allergies.filter((a) => a.status !== "active");
  const alerts = activeAlerts(safety);

  return (
    <section className="panel" aria-labelledby="safety-title" data-testid="safety-panel">
      <div className="panel-head">
        <h2 id="safety-title">Allergies and alerts</h2>
        {erased ? null : (
          <div className="actions">
            <button type="button" className="secondary small" onClick={() => setOpen({ kind: "allergy" })} disabled={open?.kind === "allergy"}>
              Record allergy
            </button>
            <button type="button" className="secondary small" onClick={() => setOpen({ kind: "alert" })} disabled={open?.kind === "alert"}>
              Record alert
            </button>
          </div>
        )}
      </div>
      <FormError message={error} />
      {open?.kind === "allergy" ? <AllergyForm patientId={patientId} onDone={done} onClose={close} /> : null}
      {open?.kind === "alert" ? <AlertForm patientId={patientId} onDone={done} onClose={close} /> : null}

      <h3 className="subhead">Allergies</h3>
      {active.length === 0 ? (
        <p className="small">
          {safety.allergyStatus === "none_known" ? "No known allergies." : erased ? "No allergies recorded." : <strong>Allergies not recorded: ask the patient.</strong>}{" "}
          {safety.allergyStatus !== "none_known" && !erased ? (
            <button type="button" className="secondary small" onClick={() => noneKnown.mutate({ patientId })} disabled={noneKnown.isPending}>
              No known allergies
            </button>
          ) : null}
        </p>
      ) : (
        <ul className="safety-list" data-testid="allergy-list">
          {active.map((a) => (
            <li key={a.allergyId}>
              <AllergyLine allergy={a} />
              {open?.kind === "close-allergy" && open.id === a.allergyId ? (
                <ReasonForm
                  title={`${open.outcome === "refuted" ? "Refute" : "Resolve"} the allergy to ${a.substance.text}`}
                  submit={open.outcome === "refuted" ? "Refute allergy" : "Resolve allergy"}
                  onClose={close}
                  send={(reason, commandId) =>
                    ({ mutation: "closeAllergy", input: { patientId, allergyId: a.allergyId, outcome: open.outcome, reason, commandId } }) as const
                  }
                  patientId={patientId}
                  onDone={() => done(`Allergy to ${a.substance.text} ${open.outcome}.`)}
                />
              ) : (
                <span className="actions">
                  <button type="button" className="secondary small" onClick={() => setOpen({ kind: "close-allergy", id: a.allergyId, outcome: "refuted" })}>
                    Refute
                  </button>
                  <button type="button" className="secondary small" onClick={() => setOpen({ kind: "close-allergy", id: a.allergyId, outcome: "resolved" })}>
                    Resolve
                  </button>
                </span>
              )}
            </li>
          ))}
        </ul>
      )}
      {closed.length > 0 ? (
        <details className="closed-orders">
          <summary>Refuted or resolved ({closed.length})</summary>
          <ul className="safety-list">
            {closed.map((a) => (
              <li key={a.allergyId} className="muted">
                <AllergyLine allergy={a} /> · {label(a.status)}: {a.statusReason}
              </li>
            ))}
          </ul>
        </details>
      ) : null}

      <h3 className="subhead">Alerts</h3>
      {alerts.length === 0 ? (
        <p className="muted small">No active alerts.</p>
      ) : (
        <ul className="safety-list" data-testid="alert-list">
          {alerts.map((a) => (
            <li key={a.alertId}>
              <span>
                <strong>{label(a.kind)}</strong>
                {a.note ? <span className="small"> · {a.note}</span> : null}
              </span>
              {open?.kind === "resolve-alert" && open.id === a.alertId ? (
                <ReasonForm
                  title={`Resolve the alert ${label(a.kind).toLowerCase()}`}
                  submit="Resolve alert"
                  onClose={close}
                  send={(reason, commandId) => ({ mutation: "resolveAlert", input: { patientId, alertId: a.alertId, reason, commandId } }) as const}
                  patientId={patientId}
                  onDone={() => done(`Alert resolved: ${label(a.kind)}.`)}
                />
              ) : (
                <button type="button" className="secondary small" onClick={() => setOpen({ kind: "resolve-alert", id: a.alertId })}>
                  Resolve
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function AllergyLine({ allergy }: { allergy: Allergy }) {
  return (
    <span>
      <strong>{allergy.substance.text}</strong>
      {allergy.reaction ? <> · {allergy.reaction}</> : null} · <span className="small">{label(allergy.severity)}</span>
      <span className="muted small"> · reported by {label(allergy.source).toLowerCase()}</span>
      {allergy.note ? <div className="small">{allergy.note}</div> : null}
    </span>
  );
}

const OTHER = "";

function AllergyForm({ patientId, onDone, onClose }: { patientId: string } & InlineFormProps) {
  const trpc = useTRPC();
  const refresh = useChartRefresh(patientId);
  const { form, commandId, formError, failFromServer } = useSchemaForm(allergyFormSchema, {
    substance: { code: null, text: "" },
    reaction: "",
    severity: "moderate",
    source: "patient",
    note: "",
  });
  const { register, handleSubmit, setValue, formState } = form;
  const errors = formState.errors as Record<string, unknown>;
  const record = useMutation(
    trpc.patient.recordAllergy.mutationOptions({
      onSuccess: async (_, input) => {
        commandId.reset();
        await refresh();
        onDone(`Allergy recorded: ${input.substance.text}.`);
      },
      onError: (error) => {
        if (isRefusal(readError(error))) void refresh();
        failFromServer(error);
      },
    }),
  );
  const onSubmit = handleSubmit((values) => record.mutate(commandId.stamped({ patientId, ...values })));

  return (
    <form className="inline-form stack" onSubmit={onSubmit} noValidate aria-labelledby="allergy-form-title">
      <h3 id="allergy-form-title">Record allergy</h3>
      <FormError message={formError} />
      <div className="row">
        <Field id="allergy-code" label="Substance" hint="Pick from the list, or choose Other and type it">
          <select
            {...fieldProps("allergy-code", undefined, "Pick from the list, or choose Other and type it")}
            defaultValue={OTHER}
            onChange={(e) => {
              const picked = allergySubstances.find((s) => s.code === e.target.value);
              setValue("substance.code", picked?.code ?? null, { shouldDirty: true });
              if (picked) setValue("substance.text", picked.label, { shouldDirty: true, shouldValidate: formState.isSubmitted });
            }}
          >
            <option value={OTHER}>Other (type it)</option>
            {allergySubstances.map((s) => (
              <option key={s.code} value={s.code}>
                {s.label}
              </option>
            ))}
          </select>
        </Field>
        <Field id="allergy-substance" label="Substance as named" error={errorOf(errors, "substance.text")} required className="grow">
          <input {...fieldProps("allergy-substance", errorOf(errors, "substance.text"))} {...register("substance.text")} maxLength={200} autoComplete="off" />
        </Field>
      </div>
      <div className="row">
        <Field id="allergy-reaction" label="Reaction" error={errorOf(errors, "reaction")} optional className="grow">
          <input {...fieldProps("allergy-reaction", errorOf(errors, "reaction"))} {...register("reaction")} maxLength={500} autoComplete="off" placeholder="e.g. hives, anaphylaxis" />
        </Field>
        <Field id="allergy-severity" label="Severity" error={errorOf(errors, "severity")} required>
          <select {...fieldProps("allergy-severity", errorOf(errors, "severity"))} {...register("severity")}>
            <Options values={allergySeverities} />
          </select>
        </Field>
        <Field id="allergy-source" label="Reported by" error={errorOf(errors, "source")} required>
          <select {...fieldProps("allergy-source", errorOf(errors, "source"))} {...register("source")}>
            <Options values={allergySources} />
          </select>
        </Field>
      </div>
      <Field id="allergy-note" label="Note" error={errorOf(errors, "note")} optional>
        <textarea {...fieldProps("allergy-note", errorOf(errors, "note"))} {...register("note")} maxLength={1000} rows={2} />
      </Field>
      <InlineFormActions pending={record.isPending} submit="Record allergy" sending="Recording…" onClose={onClose} />
    </form>
  );
}

function AlertForm({ patientId, onDone, onClose }: { patientId: string } & InlineFormProps) {
  const trpc = useTRPC();
  const refresh = useChartRefresh(patientId);
  const { form, commandId, formError, failFromServer } = useSchemaForm(alertFormSchema, { kind: "fall_risk", note: "" });
  const errors = form.formState.errors as Record<string, unknown>;
  const record = useMutation(
    trpc.patient.recordAlert.mutationOptions({
      onSuccess: async (_, input) => {
        commandId.reset();
        await refresh();
        onDone(`Alert recorded: ${label(input.kind)}.`);
      },
      onError: (error) => {
        if (isRefusal(readError(error))) void refresh();
        failFromServer(error);
      },
    }),
  );
  const onSubmit = form.handleSubmit((values) => record.mutate(commandId.stamped({ patientId, ...values })));
  return (
    <form className="inline-form stack" onSubmit={onSubmit} noValidate aria-labelledby="alert-form-title">
      <h3 id="alert-form-title">Record alert</h3>
      <FormError message={formError} />
      <div className="row">
        <Field id="alert-kind" label="Alert" error={errorOf(errors, "kind")} required>
          <select {...fieldProps("alert-kind", errorOf(errors, "kind"))} {...form.register("kind")}>
            <Options values={alertKinds} />
          </select>
        </Field>
        <Field id="alert-note" label="Note" error={errorOf(errors, "note")} optional className="grow">
          <input {...fieldProps("alert-note", errorOf(errors, "note"))} {...form.register("note")} maxLength={1000} autoComplete="off" />
        </Field>
      </div>
      <InlineFormActions pending={record.isPending} submit="Record alert" sending="Recording…" onClose={onClose} />
    </form>
  );
}

const reasonSchema = z.object({ reason: allergyReasonSchema });

type ReasonSend =
  | { mutation: "closeAllergy"; input: { patientId: string; allergyId: string; outcome: "refuted" | "resolved"; reason: string; commandId: string } }
  | { mutation: "resolveAlert"; input: { patientId: string; alertId: string; reason: string; commandId: string } };

/** A reason, then one command: refute or resolve an allergy, resolve an alert. */
function ReasonForm({
  title,
  submit,
  send,
  patientId,
  onDone,
  onClose,
}: {
  title: string;
  submit: string;
  send: (reason: string, commandId: string) => ReasonSend;
  patientId: string;
  onDone: () => void;
  onClose: () => void;
}) {
  const trpc = useTRPC();
  const refresh = useChartRefresh(patientId);
  const { form, commandId, formError, failFromServer } = useSchemaForm(reasonSchema, { reason: "" });
  const errors = form.formState.errors as Record<string, unknown>;
  const options = {
    onSuccess: async () => {
      commandId.reset();
      await refresh();
      onDone();
    },
    onError: (error: unknown) => {
      if (isRefusal(readError(error))) void refresh();
      failFromServer(error);
    },
  };
  const closeAllergy = useMutation(trpc.patient.closeAllergy.mutationOptions(options));
  const resolveAlert = useMutation(trpc.patient.resolveAlert.mutationOptions(options));
  const onSubmit = form.handleSubmit(({ reason }) => {
    // What is sent, without its id (the same for every id), names the command for `get`.
    const call = send(reason, commandId.get(send(reason, "")));
    if (call.mutation === "closeAllergy") closeAllergy.mutate(call.input);
    else resolveAlert.mutate(call.input);
  });
  const id = `reason-${title.length}`;
  return (
    <form className="inline-form stack" onSubmit={onSubmit} noValidate aria-label={title}>
      <FormError message={formError} />
      <Field id={id} label={`Reason (${title.toLowerCase()})`} error={errorOf(errors, "reason")} required>
        <input {...fieldProps(id, errorOf(errors, "reason"))} {...form.register("reason")} maxLength={500} autoComplete="off" />
      </Field>
      <InlineFormActions pending={closeAllergy.isPending || resolveAlert.isPending} submit={submit} sending="Saving…" onClose={onClose} />
    </form>
  );
}
