"use client";
// Starting and completing encounters from the chart, on the shared form layer: the schemas are
// shared/clinical/encounters.ts's, checked in the browser before the server checks the command.
import { useMutation } from "@tanstack/react-query";
import { useRef, useState } from "react";
import { errorOf, formAlert, useSchemaForm } from "@/components/forms/useSchemaForm";
import { useTRPC } from "@/components/trpc";
import { completeEncounterFormSchema, dischargeDispositions, encounterTypes, startEncounterFormSchema } from "@/shared/clinical/encounters";
import { ChangedSinceOpened } from "./ChangedSinceOpened";
import { isConflict, isRefusal, isUnanswered, readError } from "./errors";
import { Field, FormError, InlineFormActions, Options, fieldProps, useFocusFirstField, type InlineFormProps } from "./form";
import { label } from "@/components/format";
import type { ChartEncounter } from "./types";
import { useChartRefresh } from "./useChartRefresh";


export function StartEncounterForm({ patientId, onDone, onClose }: { patientId: string } & InlineFormProps) {
  const trpc = useTRPC();
  const refresh = useChartRefresh(patientId);
  const formRef = useRef<HTMLFormElement>(null);
  useFocusFirstField(formRef);
  const { form, commandId, formError, failFromServer } = useSchemaForm(startEncounterFormSchema, { encounterType: "outpatient", location: "", reason: "" });
  const errors = form.formState.errors as Record<string, unknown>;

  const start = useMutation(
    trpc.encounter.start.mutationOptions({
      onSuccess: async (_, input) => {
        commandId.reset();
        await refresh(trpc.encounter.listForPatient.queryKey({ patientId }));
        onDone(`${label(input.encounterType)} encounter started.`);
      },
      onError: (error) => {
        if (isRefusal(readError(error))) void refresh();
        failFromServer(error);
      },
    }),
  );

  const onSubmit = form.handleSubmit((v) => {
    if (start.isPending) return;
    start.mutate(commandId.stamped({ patientId, encounterType: v.encounterType, reason: v.reason || null, location: v.location || null }));
  });

  return (
    <form ref={formRef} className="inline-form stack" onSubmit={onSubmit} noValidate aria-labelledby="start-encounter-title">
      <h3 id="start-encounter-title">Start encounter</h3>
      <FormError message={formAlert(formError, errors)} />
      <div className="row">
        <Field id="encounterType" label="Type" error={errorOf(errors, "encounterType")} required>
          <select {...fieldProps("encounterType", errorOf(errors, "encounterType"))} {...form.register("encounterType")} required>
            <option value="">Choose…</option>
            <Options values={encounterTypes} />
          </select>
        </Field>
      </div>
      <Field id="encounterLocation" label="Location" hint="Ward, room, bed or clinic" error={errorOf(errors, "location")} optional>
        <input {...fieldProps("encounterLocation", errorOf(errors, "location"), "Ward, room, bed or clinic")} {...form.register("location")} maxLength={100} autoComplete="off" />
      </Field>
      <Field id="encounterReason" label="Reason for visit" error={errorOf(errors, "reason")} optional>
        <textarea {...fieldProps("encounterReason", errorOf(errors, "reason"))} {...form.register("reason")} rows={2} maxLength={500} />
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
  useFocusFirstField(formRef);
  const idp = `complete-${encounter.encounterId.slice(0, 8)}`;
  // The encounter as the clinician saw it when the form opened: the completion is decided on that
  // version, so one completed or changed elsewhere meanwhile is a conflict, never silently re-based
  // by a refetch of the chart.
  const [opened, setOpened] = useState(encounter);
  // The server refused it as a conflict, before the chart had shown a newer version.
  const [refused, setRefused] = useState(false);
  // The last send got no answer: a completion on the chart may be this very one (OrderStatusChange).
  const [unanswered, setUnanswered] = useState(false);
  const { form, commandId, formError, failFromServer } = useSchemaForm(completeEncounterFormSchema, { outcome: "", dischargeDisposition: "" as never });
  const errors = form.formState.errors as Record<string, unknown>;

  const complete = useMutation(
    trpc.encounter.complete.mutationOptions({
      onSuccess: async () => {
        commandId.reset();
        setUnanswered(false);
        await refreshAll();
        onDone(`${label(encounter.encounterType)} encounter completed.`);
      },
      onError: (error) => {
        const e = readError(error);
        setUnanswered(isUnanswered(e));
        // Refused because the encounter is not what this screen shows: fetch what it is now.
        if (isRefusal(e)) void refreshAll();
        if (isConflict(e)) setRefused(true);
        else failFromServer(error);
      },
    }),
  );

  // While its own completion is on its way (and its success refetches the chart), a newer version
  // is this form's doing, not someone else's; after an unanswered send it may be too: sending the
  // same command again tells (the stored result, or a conflict when it was someone else).
  const changed = !complete.isPending && !complete.isSuccess && (refused || (encounter.version !== opened.version && !unanswered));

  const onSubmit = form.handleSubmit((v) => {
    if (complete.isPending || changed) return;
    complete.mutate(
      commandId.stamped({
        encounterId: opened.encounterId,
        outcome: v.outcome,
        dischargeDisposition: v.dischargeDisposition,
        expectedVersion: opened.version,
      }),
    );
  });

  const stillOpen = encounter.status === "in_progress";
  const known = encounter.version !== opened.version;

  return (
    <div className="stack">
      {changed ? (
        <ChangedSinceOpened
          title="This encounter changed since you opened it"
          patientId={encounter.patientId}
          streamId={`encounter-${encounter.encounterId}`}
          sinceVersion={opened.version}
          actions={
            !known ? (
              <button type="button" onClick={() => void refreshAll()}>
                Reload the encounter
              </button>
            ) : stillOpen ? (
              <button
                type="button"
                onClick={() => {
                  setOpened(encounter);
                  setRefused(false);
                  commandId.reset();
                }}
              >
                Continue on the latest version
              </button>
            ) : null
          }
        >
          <p data-testid="encounter-changed-summary">
            {!known ? (
              <>Someone else changed it since you opened it. Nothing was saved. Loading the encounter as it is now…</>
            ) : stillOpen ? (
              <>It is still in progress. Nothing was saved, and what you typed is kept below: check it, then continue on the latest version.</>
            ) : (
              <>
                It is already <strong>{label(encounter.status)}</strong>
                {encounter.dischargeDisposition ? <> ({label(encounter.dischargeDisposition)})</> : null}. Nothing was saved. What you typed is
                kept below: copy anything you still need, then close the form.
              </>
            )}
          </p>
        </ChangedSinceOpened>
      ) : null}
    <form ref={formRef} className="inline-form stack" onSubmit={onSubmit} noValidate aria-labelledby={`${idp}-title`}>
      <h3 id={`${idp}-title`}>Complete encounter</h3>
      <FormError message={formAlert(formError, errors)} />
      <Field id={`${idp}-outcome`} label="Outcome" error={errorOf(errors, "outcome")} required>
        <textarea {...fieldProps(`${idp}-outcome`, errorOf(errors, "outcome"))} {...form.register("outcome")} rows={3} maxLength={2000} required />
      </Field>
      <div className="row">
        <Field id={`${idp}-disposition`} label="Discharge disposition" error={errorOf(errors, "dischargeDisposition")} required>
          <select {...fieldProps(`${idp}-disposition`, errorOf(errors, "dischargeDisposition"))} {...form.register("dischargeDisposition")} required>
            <option value="">Choose…</option>
            <Options values={dischargeDispositions} />
          </select>
        </Field>
      </div>
      <InlineFormActions pending={complete.isPending} submit="Complete encounter" sending="Completing…" disabled={changed} onClose={onClose} />
    </form>
    </div>
  );
}
