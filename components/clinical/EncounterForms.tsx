"use client";
// Starting and completing encounters from the chart.
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { useEffect, useRef, useState, type FormEvent, type RefObject } from "react";
import { useTRPC } from "@/components/trpc";
import { dischargeDispositions, encounterTypes, type DischargeDisposition, type EncounterType } from "@/server/domain/encounter/events";
import { friendlyMessage, isConflict, readError } from "./errors";
import { Field, FormError, fieldProps, useCommandId, useFocusFirstInvalid, type FieldErrors } from "./form";
import { label } from "./format";
import type { ChartEncounter } from "./types";

function useFocusFirstFieldOnOpen(formRef: RefObject<HTMLFormElement | null>) {
  useEffect(() => {
    formRef.current?.querySelector<HTMLElement>("input, select, textarea")?.focus();
  }, [formRef]);
}

function useChartInvalidation(patientId: string) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  return () =>
    Promise.all([
      queryClient.invalidateQueries({ queryKey: trpc.patient.byId.queryKey({ patientId }) }),
      queryClient.invalidateQueries({ queryKey: trpc.patient.history.pathKey() }),
      queryClient.invalidateQueries({ queryKey: trpc.encounter.listForPatient.queryKey({ patientId }) }),
    ]);
}

export function StartEncounterForm({
  patientId,
  onDone,
  onClose,
}: {
  patientId: string;
  onDone: (message: string) => void;
  onClose: () => void;
}) {
  const trpc = useTRPC();
  const invalidate = useChartInvalidation(patientId);
  const formRef = useRef<HTMLFormElement>(null);
  const commandId = useCommandId();
  const [encounterType, setEncounterType] = useState<EncounterType | "">("outpatient");
  const [reason, setReason] = useState("");
  const [errors, setErrors] = useState<FieldErrors>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [attempt, setAttempt] = useState(0);
  useFocusFirstInvalid(formRef, attempt);
  useFocusFirstFieldOnOpen(formRef);

  const start = useMutation(
    trpc.encounter.start.mutationOptions({
      onSuccess: async () => {
        commandId.reset();
        await invalidate();
        onDone(`${label(encounterType || "outpatient")} encounter started.`);
      },
      onError: (error) => {
        const e = readError(error);
        setErrors({ encounterType: e.fieldErrors.encounterType, reason: e.fieldErrors.reason });
        setFormError(friendlyMessage(e));
        setAttempt((n) => n + 1);
      },
    }),
  );

  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    if (start.isPending) return;
    const found: FieldErrors = {};
    if (!encounterType) found.encounterType = "Choose the type of encounter.";
    if (reason.trim().length > 500) found.reason = "At most 500 characters.";
    setErrors(found);
    if (Object.keys(found).length > 0 || !encounterType) {
      setFormError("Check the highlighted fields.");
      setAttempt((n) => n + 1);
      return;
    }
    setFormError(null);
    start.mutate({ patientId, encounterType, reason: reason.trim() || null, commandId: commandId.get() });
  };

  return (
    <form ref={formRef} className="inline-form stack" onSubmit={onSubmit} noValidate aria-labelledby="start-encounter-title">
      <h3 id="start-encounter-title">Start encounter</h3>
      <FormError message={formError} />
      <div className="row">
        <Field id="encounterType" label="Type" error={errors.encounterType} required>
          <select
            {...fieldProps("encounterType", errors.encounterType)}
            value={encounterType}
            onChange={(e) => {
              commandId.reset();
              setEncounterType(e.target.value as EncounterType);
            }}
            required
          >
            <option value="">Choose…</option>
            {encounterTypes.map((t) => (
              <option key={t} value={t}>
                {label(t)}
              </option>
            ))}
          </select>
        </Field>
      </div>
      <Field id="encounterReason" label="Reason for visit" error={errors.reason} optional>
        <textarea
          {...fieldProps("encounterReason", errors.reason)}
          rows={2}
          maxLength={500}
          value={reason}
          onChange={(e) => {
            commandId.reset();
            setReason(e.target.value);
          }}
        />
      </Field>
      <div className="actions">
        <button type="submit" disabled={start.isPending}>
          {start.isPending ? "Starting…" : "Start encounter"}
        </button>
        <button type="button" className="secondary" onClick={onClose}>
          Close
        </button>
      </div>
    </form>
  );
}

export function CompleteEncounterForm({
  encounter,
  onDone,
  onClose,
}: {
  encounter: ChartEncounter;
  onDone: (message: string) => void;
  onClose: () => void;
}) {
  const trpc = useTRPC();
  const invalidate = useChartInvalidation(encounter.patientId);
  const formRef = useRef<HTMLFormElement>(null);
  const commandId = useCommandId();
  const idp = `complete-${encounter.encounterId.slice(0, 8)}`;
  const [outcome, setOutcome] = useState("");
  const [disposition, setDisposition] = useState<DischargeDisposition | "">("");
  const [errors, setErrors] = useState<FieldErrors>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [conflict, setConflict] = useState(false);
  const [attempt, setAttempt] = useState(0);
  useFocusFirstInvalid(formRef, attempt);
  useFocusFirstFieldOnOpen(formRef);

  const complete = useMutation(
    trpc.encounter.complete.mutationOptions({
      onSuccess: async () => {
        commandId.reset();
        await invalidate();
        onDone(`${label(encounter.encounterType)} encounter completed.`);
      },
      onError: (error) => {
        const e = readError(error);
        if (isConflict(e)) {
          setConflict(true);
          return;
        }
        setErrors({ outcome: e.fieldErrors.outcome, dischargeDisposition: e.fieldErrors.dischargeDisposition });
        setFormError(friendlyMessage(e));
        setAttempt((n) => n + 1);
      },
    }),
  );

  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    if (complete.isPending) return;
    const found: FieldErrors = {};
    if (!outcome.trim()) found.outcome = "Enter the outcome of the encounter.";
    else if (outcome.trim().length > 2000) found.outcome = "At most 2000 characters.";
    if (!disposition) found.dischargeDisposition = "Choose the discharge disposition.";
    setErrors(found);
    if (Object.keys(found).length > 0 || !disposition) {
      setFormError("Check the highlighted fields.");
      setAttempt((n) => n + 1);
      return;
    }
    setFormError(null);
    complete.mutate({
      encounterId: encounter.encounterId,
      outcome: outcome.trim(),
      dischargeDisposition: disposition,
      expectedVersion: encounter.version,
      commandId: commandId.get(),
    });
  };

  if (conflict) {
    return (
      <div className="alert warn inline-form" role="alert">
        <h3>This encounter changed since you opened it — reload</h3>
        <p>Someone else changed this encounter. Reload the chart to see where it stands.</p>
        <div className="actions">
          <button
            type="button"
            onClick={async () => {
              await invalidate();
              onClose();
            }}
          >
            Reload
          </button>
        </div>
      </div>
    );
  }

  return (
    <form ref={formRef} className="inline-form stack" onSubmit={onSubmit} noValidate aria-labelledby={`${idp}-title`}>
      <h3 id={`${idp}-title`}>Complete encounter</h3>
      <FormError message={formError} />
      <Field id={`${idp}-outcome`} label="Outcome" error={errors.outcome} required>
        <textarea
          {...fieldProps(`${idp}-outcome`, errors.outcome)}
          rows={3}
          maxLength={2000}
          value={outcome}
          onChange={(e) => {
            commandId.reset();
            setErrors((x) => ({ ...x, outcome: undefined }));
            setOutcome(e.target.value);
          }}
          required
        />
      </Field>
      <div className="row">
        <Field id={`${idp}-disposition`} label="Discharge disposition" error={errors.dischargeDisposition} required>
          <select
            {...fieldProps(`${idp}-disposition`, errors.dischargeDisposition)}
            value={disposition}
            onChange={(e) => {
              commandId.reset();
              setErrors((x) => ({ ...x, dischargeDisposition: undefined }));
              setDisposition(e.target.value as DischargeDisposition);
            }}
            required
          >
            <option value="">Choose…</option>
            {dischargeDispositions.map((d) => (
              <option key={d} value={d}>
                {label(d)}
              </option>
            ))}
          </select>
        </Field>
      </div>
      <div className="actions">
        <button type="submit" disabled={complete.isPending}>
          {complete.isPending ? "Completing…" : "Complete encounter"}
        </button>
        <button type="button" className="secondary" onClick={onClose}>
          Close
        </button>
      </div>
    </form>
  );
}
