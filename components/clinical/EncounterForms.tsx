"use client";
// Starting and completing encounters from the chart.
import { useMutation } from "@tanstack/react-query";
import { useRef, useState, type FormEvent } from "react";
import { useTRPC } from "@/components/trpc";
import { dischargeDispositions, encounterTypes, type DischargeDisposition, type EncounterType } from "@/shared/clinical/encounters";
import { errorAt, friendlyMessage, isConflict, readError } from "./errors";
import {
  ChangedSinceOpened,
  Field,
  FormError,
  InlineFormActions,
  Options,
  fieldProps,
  useCommandForm,
  useFocusFirstField,
  type FieldErrors,
  type InlineFormProps,
} from "./form";
import { label } from "@/components/format";
import type { ChartEncounter } from "./types";
import { useChartRefresh } from "./useChartRefresh";

export function StartEncounterForm({ patientId, onDone, onClose }: { patientId: string } & InlineFormProps) {
  const trpc = useTRPC();
  const refresh = useChartRefresh(patientId);
  const formRef = useRef<HTMLFormElement>(null);
  const form = useCommandForm(formRef);
  const { errors } = form;
  const [encounterType, setEncounterType] = useState<EncounterType | "">("outpatient");
  const [reason, setReason] = useState("");
  const [location, setLocation] = useState("");
  useFocusFirstField(formRef);

  const start = useMutation(
    trpc.encounter.start.mutationOptions({
      onSuccess: async () => {
        form.commandId.reset();
        await refresh(trpc.encounter.listForPatient.queryKey({ patientId }));
        onDone(`${label(encounterType || "outpatient")} encounter started.`);
      },
      onError: (error) => {
        const e = readError(error);
        form.fail({ encounterType: errorAt(e, "encounterType"), reason: errorAt(e, "reason"), location: errorAt(e, "location") }, friendlyMessage(e));
      },
    }),
  );

  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    if (start.isPending) return;
    const found: FieldErrors = {};
    if (!encounterType) found.encounterType = "Choose the type of encounter.";
    if (reason.trim().length > 500) found.reason = "At most 500 characters.";
    if (location.trim().length > 100) found.location = "At most 100 characters.";
    if (!form.passes(found) || !encounterType) return;
    start.mutate({ patientId, encounterType, reason: reason.trim() || null, location: location.trim() || null, commandId: form.commandId.get() });
  };

  return (
    <form ref={formRef} className="inline-form stack" onSubmit={onSubmit} noValidate aria-labelledby="start-encounter-title">
      <h3 id="start-encounter-title">Start encounter</h3>
      <FormError message={form.formError} />
      <div className="row">
        <Field id="encounterType" label="Type" error={errors.encounterType} required>
          <select
            {...fieldProps("encounterType", errors.encounterType)}
            value={encounterType}
            onChange={(e) => {
              form.edited("encounterType");
              setEncounterType(e.target.value as EncounterType);
            }}
            required
          >
            <option value="">Choose…</option>
            <Options values={encounterTypes} />
          </select>
        </Field>
      </div>
      <Field id="encounterLocation" label="Location" hint="Ward, room, bed or clinic" error={errors.location} optional>
        <input
          {...fieldProps("encounterLocation", errors.location, "Ward, room, bed or clinic")}
          maxLength={100}
          autoComplete="off"
          value={location}
          onChange={(e) => {
            form.edited("location");
            setLocation(e.target.value);
          }}
        />
      </Field>
      <Field id="encounterReason" label="Reason for visit" error={errors.reason} optional>
        <textarea
          {...fieldProps("encounterReason", errors.reason)}
          rows={2}
          maxLength={500}
          value={reason}
          onChange={(e) => {
            form.edited("reason");
            setReason(e.target.value);
          }}
        />
      </Field>
      <InlineFormActions pending={start.isPending} submit="Start encounter" sending="Starting…" onClose={onClose} />
    </form>
  );
}

export function CompleteEncounterForm({ encounter, onDone, onClose }: { encounter: ChartEncounter } & InlineFormProps) {
  const trpc = useTRPC();
  const refresh = useChartRefresh(encounter.patientId);
  const refreshAll = () => refresh(trpc.encounter.listForPatient.queryKey({ patientId: encounter.patientId }));
  const formRef = useRef<HTMLFormElement>(null);
  const form = useCommandForm(formRef);
  const { errors } = form;
  const idp = `complete-${encounter.encounterId.slice(0, 8)}`;
  const [outcome, setOutcome] = useState("");
  const [disposition, setDisposition] = useState<DischargeDisposition | "">("");
  const [conflict, setConflict] = useState(false);
  useFocusFirstField(formRef);

  const complete = useMutation(
    trpc.encounter.complete.mutationOptions({
      onSuccess: async () => {
        form.commandId.reset();
        await refreshAll();
        onDone(`${label(encounter.encounterType)} encounter completed.`);
      },
      onError: (error) => {
        const e = readError(error);
        if (isConflict(e)) {
          setConflict(true);
          return;
        }
        form.fail({ outcome: errorAt(e, "outcome"), dischargeDisposition: errorAt(e, "dischargeDisposition") }, friendlyMessage(e));
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
    if (!form.passes(found) || !disposition) return;
    complete.mutate({
      encounterId: encounter.encounterId,
      outcome: outcome.trim(),
      dischargeDisposition: disposition,
      expectedVersion: encounter.version,
      commandId: form.commandId.get(),
    });
  };

  if (conflict) {
    return (
      <ChangedSinceOpened
        title="This encounter changed since you opened it — reload"
        message="Someone else changed this encounter. Reload the chart to see where it stands."
        action="Reload"
        onReload={async () => {
          await refreshAll();
          onClose();
        }}
      />
    );
  }

  return (
    <form ref={formRef} className="inline-form stack" onSubmit={onSubmit} noValidate aria-labelledby={`${idp}-title`}>
      <h3 id={`${idp}-title`}>Complete encounter</h3>
      <FormError message={form.formError} />
      <Field id={`${idp}-outcome`} label="Outcome" error={errors.outcome} required>
        <textarea
          {...fieldProps(`${idp}-outcome`, errors.outcome)}
          rows={3}
          maxLength={2000}
          value={outcome}
          onChange={(e) => {
            form.edited("outcome");
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
              form.edited("dischargeDisposition");
              setDisposition(e.target.value as DischargeDisposition);
            }}
            required
          >
            <option value="">Choose…</option>
            <Options values={dischargeDispositions} />
          </select>
        </Field>
      </div>
      <InlineFormActions pending={complete.isPending} submit="Complete encounter" sending="Completing…" onClose={onClose} />
    </form>
  );
}
