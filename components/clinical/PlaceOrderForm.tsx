"use client";
// Placing an order from the chart, optionally attached to one of the patient's open encounters.
import { useMutation } from "@tanstack/react-query";
import { useRef, useState, type FormEvent } from "react";
import { useTRPC } from "@/components/trpc";
import { orderKinds, orderPriorities, type OrderKind, type OrderPriority } from "@/shared/clinical/orders";
import { allergyConflicts, allergyOverrideReasonSchema, type Allergy } from "@/shared/clinical/safety";
import { fieldErrorsBy, friendlyMessage, readError, ruleOf } from "./errors";
import {
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
import { formatDateTime, label } from "@/components/format";
import type { ChartEncounter } from "./types";
import { useChartRefresh } from "./useChartRefresh";

type OrderForm = {
  kind: OrderKind;
  description: string;
  code: string;
  priority: OrderPriority;
  scheduledFor: string;
  encounterId: string;
  dose: string;
  route: string;
  frequency: string;
  allergyOverrideReason: string;
};

const limits: Partial<Record<keyof OrderForm, number>> = { description: 1000, code: 64, dose: 100, route: 100, frequency: 100 };

export function PlaceOrderForm({
  patientId,
  openEncounters,
  allergies,
  onDone,
  onClose,
}: { patientId: string; openEncounters: ChartEncounter[]; allergies: Allergy[] } & InlineFormProps) {
  const trpc = useTRPC();
  const refresh = useChartRefresh(patientId);
  const formRef = useRef<HTMLFormElement>(null);
  const form = useCommandForm(formRef);
  const { errors } = form;
  const [values, setValues] = useState<OrderForm>({
    kind: "lab",
    description: "",
    code: "",
    priority: "routine",
    scheduledFor: "",
    encounterId: openEncounters[0]?.encounterId ?? "",
    dose: "",
    route: "",
    frequency: "",
    allergyOverrideReason: "",
  });
  // The server refused for an allergy this screen did not know of yet (recorded meanwhile).
  const [serverConflict, setServerConflict] = useState<string | null>(null);
  useFocusFirstField(formRef);

  const medication = values.kind === "medication";
  // The same check the server makes, as the clinician types: warned before submitting.
  const conflicts = medication ? allergyConflicts({ description: values.description, code: values.code }, allergies) : [];
  const needsOverride = conflicts.length > 0 || serverConflict !== null;

  const create = useMutation(
    trpc.order.create.mutationOptions({
      onSuccess: async () => {
        form.commandId.reset();
        await refresh(trpc.order.worklist.pathKey());
        onDone(`${label(values.kind)} order placed: ${values.description.trim()}.`);
      },
      onError: (error) => {
        const e = readError(error);
        const fields: FieldErrors = fieldErrorsBy(e, (path) => path.replace(/^details\./, ""));
        const rule = ruleOf(e);
        if (rule === "order.encounter_completed" || rule === "order.encounter_patient_mismatch") fields.encounterId = friendlyMessage(e);
        if (rule === "order.allergy_conflict") {
          setServerConflict(e.message);
          fields.allergyOverrideReason = "Give a reason to order it despite the allergy.";
        }
        form.fail(fields, friendlyMessage(e));
      },
    }),
  );

  const set = <K extends keyof OrderForm>(key: K, value: OrderForm[K]) => {
    form.edited(key);
    setValues((v) => ({ ...v, [key]: value }));
  };

  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    if (create.isPending) return;
    const found: FieldErrors = {};
    if (!values.description.trim()) found.description = "Describe what is ordered.";
    for (const [key, max] of Object.entries(limits)) {
      if (values[key as keyof OrderForm].trim().length > max) found[key] = `At most ${max} characters.`;
    }
    let scheduledFor: Date | null = null;
    if (values.scheduledFor) {
      scheduledFor = new Date(values.scheduledFor);
      if (Number.isNaN(scheduledFor.getTime())) found.scheduledFor = "Enter a date and time.";
    }
    if (needsOverride) {
      const reason = allergyOverrideReasonSchema.safeParse(values.allergyOverrideReason);
      if (!reason.success) found.allergyOverrideReason = `To order it despite the allergy, ${reason.error.issues[0]?.message ?? "give a reason"}.`;
    }
    if (!form.passes(found)) return;
    const t = (s: string) => s.trim() || undefined;
    create.mutate({
      patientId,
      encounterId: values.encounterId || null,
      kind: values.kind,
      priority: values.priority,
      scheduledFor,
      details: {
        description: values.description.trim(),
        code: t(values.code),
        ...(medication && { dose: t(values.dose), route: t(values.route), frequency: t(values.frequency) }),
      },
      allergyOverrideReason: needsOverride ? values.allergyOverrideReason.trim() : undefined,
      commandId: form.commandId.get(),
    });
  };

  const text = (key: keyof OrderForm, hint?: string) => ({
    ...fieldProps(`order-${key}`, errors[key], hint),
    value: values[key],
    onChange: (e: { target: { value: string } }) => set(key, e.target.value as never),
  });

  return (
    <form ref={formRef} className="inline-form stack" onSubmit={onSubmit} noValidate aria-labelledby="place-order-title">
      <h3 id="place-order-title">Place order</h3>
      <FormError message={form.formError} />
      <div className="row">
        <Field id="order-kind" label="Kind" error={errors.kind} required>
          <select {...text("kind")} required>
            <Options values={orderKinds} />
          </select>
        </Field>
        <Field id="order-priority" label="Priority" error={errors.priority} required>
          <select {...text("priority")} required>
            <Options values={orderPriorities} />
          </select>
        </Field>
        <Field id="order-encounterId" label="Encounter" error={errors.encounterId} optional>
          <select {...text("encounterId")}>
            <option value="">None</option>
            {openEncounters.map((e) => (
              <option key={e.encounterId} value={e.encounterId}>
                {label(e.encounterType)}, started {formatDateTime(e.startedAt)}
              </option>
            ))}
          </select>
        </Field>
      </div>
      <div className="row">
        <Field id="order-description" label="Description" error={errors.description} required className="grow">
          <input {...text("description")} maxLength={1000} autoComplete="off" required placeholder={placeholders[values.kind]} />
        </Field>
        <Field id="order-code" label="Code" error={errors.code} hint="LOINC, RxNorm, CPT…" optional>
          <input {...text("code", "LOINC, RxNorm, CPT…")} maxLength={64} autoComplete="off" className="mono" />
        </Field>
      </div>
      {medication ? (
        <fieldset className="group">
          <legend>Medication</legend>
          <div className="row">
            <Field id="order-dose" label="Dose" error={errors.dose} optional>
              <input {...text("dose")} maxLength={100} autoComplete="off" placeholder="e.g. 500 mg" />
            </Field>
            <Field id="order-route" label="Route" error={errors.route} optional>
              <input {...text("route")} maxLength={100} autoComplete="off" placeholder="e.g. oral" />
            </Field>
            <Field id="order-frequency" label="Frequency" error={errors.frequency} optional>
              <input {...text("frequency")} maxLength={100} autoComplete="off" placeholder="e.g. twice daily" />
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
          <Field id="order-allergyOverrideReason" label="Reason to order despite the allergy" error={errors.allergyOverrideReason} required>
            <input {...text("allergyOverrideReason")} maxLength={500} autoComplete="off" />
          </Field>
        </div>
      ) : null}
      <div className="row">
        <Field id="order-scheduledFor" label="Scheduled for" error={errors.scheduledFor} optional>
          <input {...text("scheduledFor")} type="datetime-local" />
        </Field>
        <div className="field spacer" aria-hidden="true" />
        <div className="field spacer" aria-hidden="true" />
      </div>
      <InlineFormActions pending={create.isPending} submit="Place order" sending="Placing…" onClose={onClose} />
    </form>
  );
}

const placeholders: Record<OrderKind, string> = {
  lab: "e.g. Complete blood count",
  imaging: "e.g. Chest X-ray, 2 views",
  medication: "e.g. Amoxicillin",
  procedure: "e.g. Wound dressing change",
  referral: "e.g. Cardiology consult",
};
