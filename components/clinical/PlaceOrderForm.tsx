"use client";
// Placing an order from the chart, optionally attached to one of the patient's open encounters.
// A medication that matches a recorded allergy is flagged as it is typed and needs a reason.
import { useMutation } from "@tanstack/react-query";
import { useMemo, useRef, useState } from "react";
import { useWatch } from "react-hook-form";
import { errorOf, useSchemaForm } from "@/components/forms/useSchemaForm";
import { useTRPC } from "@/components/trpc";
import { orderKinds, orderPriorities, placeOrderFormFor, type OrderKind } from "@/shared/clinical/orders";
import { allergyConflicts, type Allergy } from "@/shared/clinical/safety";
import { friendlyMessage, isRefusal, ruleOf } from "./errors";
import { Field, FormError, InlineFormActions, Options, fieldProps, useFocusFirstField, type InlineFormProps } from "./form";
import { useZonedText } from "@/components/DateTime";
import { label } from "@/components/format";
import { instantsAtWallTime } from "@/shared/wallTime";
import type { ChartEncounter } from "./types";
import { useChartRefresh } from "./useChartRefresh";

export function PlaceOrderForm({
  patientId,
  openEncounters,
  allergies,
  onDone,
  onClose,
}: { patientId: string; openEncounters: ChartEncounter[]; allergies: Allergy[] } & InlineFormProps) {
  const trpc = useTRPC();
  const zoned = useZonedText();
  const refresh = useChartRefresh(patientId);
  const formRef = useRef<HTMLFormElement>(null);
  useFocusFirstField(formRef);
  // The server refused for an allergy this screen did not know of yet (recorded meanwhile).
  const [serverConflict, setServerConflict] = useState<string | null>(null);
  const schema = useMemo(() => placeOrderFormFor(allergies, serverConflict !== null), [allergies, serverConflict]);
  const { form, commandId, formError, failFromServer } = useSchemaForm(schema, {
    kind: "lab",
    priority: "routine",
    encounterId: openEncounters[0]?.encounterId ?? "",
    description: "",
    code: "",
    dose: "",
    route: "",
    frequency: "",
    scheduledFor: "",
    scheduledForSecond: false,
    allergyOverrideReason: "",
  });
  const { register, handleSubmit, control } = form;
  const errors = form.formState.errors as Record<string, unknown>;
  const [kind, description, code, scheduledFor, scheduledForSecond] = useWatch({ control, name: ["kind", "description", "code", "scheduledFor", "scheduledForSecond"] });
  // The scheduled time on the night the clocks go back: it happens twice, so the form asks which.
  const twice = scheduledFor ? instantsAtWallTime(scheduledFor) : undefined;
  const repeated = twice?.length === 2 ? twice : null;
  const medication = kind === "medication";
  // The same check the server makes, as the clinician types: warned before submitting.
  const conflicts = medication ? allergyConflicts({ description, code }, allergies) : [];
  const needsOverride = conflicts.length > 0 || serverConflict !== null;

  const create = useMutation(
    trpc.order.create.mutationOptions({
      onSuccess: async (_, input) => {
        commandId.reset();
        await refresh(trpc.order.worklist.pathKey());
        onDone(`${label(input.kind)} order placed: ${input.details.description}.`);
      },
      onError: (error) => {
        failFromServer(error, (e) => {
          // Refused for the chart as it is now (an allergy recorded elsewhere, an encounter
          // completed): refetch it, so the banner and the form's own check show why.
          if (isRefusal(e)) void refresh(trpc.order.worklist.pathKey());
          const rule = ruleOf(e);
          if (rule === "order.encounter_completed" || rule === "order.encounter_patient_mismatch") form.setError("encounterId", { message: friendlyMessage(e) });
          if (rule === "order.scheduled_before_birth") form.setError("scheduledFor", { message: friendlyMessage(e) }, { shouldFocus: true });
          if (rule === "order.allergy_conflict") {
            setServerConflict(e.message);
            form.setError("allergyOverrideReason", { message: "Give a reason to order it despite the allergy." }, { shouldFocus: true });
          }
          // The server's paths name the command's fields ("details.dose"); the form's are flat.
          for (const [path, message] of Object.entries(e.fieldErrors)) {
            if (path.startsWith("details.")) form.setError(path.slice("details.".length) as "dose", { message });
          }
          return Object.keys(e.fieldErrors).length > 0 ? "Check the highlighted fields." : null;
        });
      },
    }),
  );

  const onSubmit = handleSubmit((v) => {
    if (create.isPending) return;
    const t = (s: string) => s || undefined;
    create.mutate(
      commandId.stamped({
        patientId,
        encounterId: v.encounterId || null,
        kind: v.kind,
        priority: v.priority,
        scheduledFor: v.scheduledFor ? scheduledInstant(v.scheduledFor, v.scheduledForSecond) : null,
        details: {
          description: v.description,
          code: t(v.code),
          ...(v.kind === "medication" && { dose: t(v.dose), route: t(v.route), frequency: t(v.frequency) }),
        },
        allergyOverrideReason: needsOverride ? v.allergyOverrideReason.trim() : undefined,
      }),
    );
  });

  const input = (name: "description" | "code" | "dose" | "route" | "frequency" | "scheduledFor" | "allergyOverrideReason", hint?: string) => ({
    ...fieldProps(`order-${name}`, errorOf(errors, name), hint),
    ...register(name),
  });
  const select = (name: "kind" | "priority" | "encounterId") => ({ ...fieldProps(`order-${name}`, errorOf(errors, name)), ...register(name) });

  return (
    <form ref={formRef} className="inline-form stack" onSubmit={onSubmit} noValidate aria-labelledby="place-order-title">
      <h3 id="place-order-title">Place order</h3>
      <FormError message={formError ?? (Object.keys(errors).length > 0 ? "Check the highlighted fields." : null)} />
      <div className="row">
        <Field id="order-kind" label="Kind" error={errorOf(errors, "kind")} required>
          <select {...select("kind")} required>
            <Options values={orderKinds} />
          </select>
        </Field>
        <Field id="order-priority" label="Priority" error={errorOf(errors, "priority")} required>
          <select {...select("priority")} required>
            <Options values={orderPriorities} />
          </select>
        </Field>
        <Field id="order-encounterId" label="Encounter" error={errorOf(errors, "encounterId")} optional>
          <select {...select("encounterId")}>
            <option value="">None</option>
            {openEncounters.map((e) => (
              <option key={e.encounterId} value={e.encounterId}>
                {label(e.encounterType)}, started {zoned(e.startedAt)}
              </option>
            ))}
          </select>
        </Field>
      </div>
      <div className="row">
        <Field id="order-description" label="Description" error={errorOf(errors, "description")} required className="grow">
          <input {...input("description")} maxLength={1000} autoComplete="off" required placeholder={placeholders[kind]} />
        </Field>
        <Field id="order-code" label="Code" error={errorOf(errors, "code")} hint="LOINC, RxNorm, CPT…" optional>
          <input {...input("code", "LOINC, RxNorm, CPT…")} maxLength={64} autoComplete="off" className="mono" />
        </Field>
      </div>
      {medication ? (
        <fieldset className="group">
          <legend>Medication</legend>
          <div className="row">
            <Field id="order-dose" label="Dose" error={errorOf(errors, "dose")} optional>
              <input {...input("dose")} maxLength={100} autoComplete="off" placeholder="e.g. 500 mg" />
            </Field>
            <Field id="order-route" label="Route" error={errorOf(errors, "route")} optional>
              <input {...input("route")} maxLength={100} autoComplete="off" placeholder="e.g. oral" />
            </Field>
            <Field id="order-frequency" label="Frequency" error={errorOf(errors, "frequency")} optional>
              <input {...input("frequency")} maxLength={100} autoComplete="off" placeholder="e.g. twice daily" />
            </Field>
          </div>
        </fieldset>
      ) : null}
      {needsOverride ? (
        <div className="alert warn stack" role="alert" data-testid="allergy-warning">
          <p>
            <strong>Allergy:</strong>{" "}
            {conflicts.length > 0
              ? conflicts.map((c) => (c.matchedBy === "class" ? `${c.substance} (same class: ${label(c.drugClass ?? "")})` : c.substance)).join(", ")
              : serverConflict}
            . This order is refused unless you say why it is given anyway; the override is recorded for review.
          </p>
          <Field id="order-allergyOverrideReason" label="Reason to order despite the allergy" error={errorOf(errors, "allergyOverrideReason")} required>
            <input {...input("allergyOverrideReason")} maxLength={500} autoComplete="off" />
          </Field>
        </div>
      ) : null}
      <div className="row">
        <Field id="order-scheduledFor" label="Scheduled for" error={errorOf(errors, "scheduledFor")} optional>
          <input {...input("scheduledFor")} type="datetime-local" />
        </Field>
        {repeated ? (
          <div className="field" data-testid="scheduled-twice">
            <p className="small">
              {scheduledFor.slice(11, 16)} happens twice that night: the clocks go back. This order is for{" "}
              {scheduledForSecond ? `the second, ${zoned(repeated[1]!)}` : `the first, ${zoned(repeated[0]!)}`}.
            </p>
            <label className="choice">
              <input type="checkbox" {...register("scheduledForSecond")} /> The second {scheduledFor.slice(11, 16)} (after the clocks go back)
            </label>
          </div>
        ) : (
          <div className="field spacer" aria-hidden="true" />
        )}
        <div className="field spacer" aria-hidden="true" />
      </div>
      <InlineFormActions pending={create.isPending} submit="Place order" sending="Placing…" onClose={onClose} />
    </form>
  );
}

/** The instant a scheduled wall time means: the first or the second when the clocks go back. */
function scheduledInstant(value: string, second: boolean): Date {
  const at = instantsAtWallTime(value) ?? [];
  return (second ? at[1] : undefined) ?? at[0] ?? new Date(value);
}

const placeholders: Record<OrderKind, string> = {
  lab: "e.g. Complete blood count",
  imaging: "e.g. Chest X-ray, 2 views",
  medication: "e.g. Amoxicillin",
  procedure: "e.g. Wound dressing change",
  referral: "e.g. Cardiology consult",
};
