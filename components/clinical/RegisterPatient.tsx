"use client";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useRef, useState, type FormEvent } from "react";
import { useTRPC } from "@/components/trpc";
import { DemographicsFields } from "./DemographicsFields";
import { emptyDemographics, formKeyOfPath, toDemographics, validateDemographics, validateMrn, type DemographicsForm } from "./demographics";
import { fieldErrorsBy, friendlyMessage, readError, ruleOf } from "./errors";
import { Field, FormError, fieldProps, useCommandForm, type FieldErrors } from "./form";
import { Crumbs } from "./PageParts";

type RegisterForm = DemographicsForm & { mrn: string };

export function RegisterPatient() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const router = useRouter();
  const formRef = useRef<HTMLFormElement>(null);
  const form = useCommandForm(formRef);
  const { errors } = form;
  const [values, setValues] = useState<RegisterForm>({ ...emptyDemographics, mrn: "" });

  const register = useMutation(
    trpc.patient.register.mutationOptions({
      // A re-sent command id answers with the patient its first attempt registered.
      onSuccess: async ({ patientId }) => {
        form.commandId.reset();
        await queryClient.invalidateQueries({ queryKey: trpc.patient.list.pathKey() });
        router.push(`/patients/${patientId}?saved=registered`);
      },
      onError: (error) => {
        const e = readError(error);
        const fields: FieldErrors = fieldErrorsBy(e, formKeyOfPath);
        const rule = ruleOf(e);
        if (rule === "patient.mrn_taken") fields.mrn = "This MRN already belongs to another patient.";
        if (rule === "patient.dob_in_future") fields.dateOfBirth = "The date of birth cannot be in the future.";
        form.fail(fields, Object.keys(fields).length > 0 ? "The patient was not registered. Check the highlighted fields." : friendlyMessage(e));
      },
    }),
  );

  const onChange = (key: keyof RegisterForm, value: string) => {
    form.edited(key);
    setValues((v) => ({ ...v, [key]: value }));
  };

  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    if (register.isPending) return;
    const mrn = values.mrn.trim().toUpperCase();
    if (!form.passes({ ...validateDemographics(values, new Date()), mrn: validateMrn(mrn) })) return;
    register.mutate({ mrn, ...toDemographics(values), commandId: form.commandId.get() });
  };

  return (
    <>
      <Crumbs current="Register" />
      <h1>Register patient</h1>
      <p className="subtitle">Fields marked * are required. The MRN cannot be changed later.</p>
      <form ref={formRef} className="stack panel form-narrow" onSubmit={onSubmit} noValidate aria-labelledby="register-title">
        <h2 id="register-title" className="sr-only">
          Patient details
        </h2>
        <FormError message={form.formError} />
        <div className="row">
          <Field id="mrn" label="Medical record number (MRN)" error={errors.mrn} hint="6 to 12 upper-case letters or digits" required>
            <input
              {...fieldProps("mrn", errors.mrn, "6 to 12 upper-case letters or digits")}
              value={values.mrn}
              onChange={(e) => onChange("mrn", e.target.value.toUpperCase())}
              autoComplete="off"
              maxLength={12}
              className="mono"
              required
            />
          </Field>
          <div className="field spacer" aria-hidden="true" />
        </div>
        <DemographicsFields values={values} errors={errors} onChange={onChange} />
        <div className="actions">
          <button type="submit" disabled={register.isPending}>
            {register.isPending ? "Registering…" : "Register patient"}
          </button>
          <Link className="button secondary" href="/patients">
            Cancel
          </Link>
        </div>
      </form>
    </>
  );
}
