"use client";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useRef, useState, type FormEvent } from "react";
import { useTRPC } from "@/components/trpc";
import { DemographicsFields } from "./DemographicsFields";
import { emptyDemographics, formKeyOfPath, toDemographics, validateDemographics, validateMrn, type DemographicsForm } from "./demographics";
import { readError, friendlyMessage, ruleOf } from "./errors";
import { Field, FormError, fieldProps, useCommandId, useFocusFirstInvalid, type FieldErrors } from "./form";

type RegisterForm = DemographicsForm & { mrn: string };

export function RegisterPatient() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const router = useRouter();
  const formRef = useRef<HTMLFormElement>(null);
  const commandId = useCommandId();
  const [values, setValues] = useState<RegisterForm>({ ...emptyDemographics, mrn: "" });
  const [errors, setErrors] = useState<FieldErrors>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [attempt, setAttempt] = useState(0);
  useFocusFirstInvalid(formRef, attempt);

  const register = useMutation(
    trpc.patient.register.mutationOptions({
      onSuccess: async ({ patientId }) => {
        commandId.reset();
        await queryClient.invalidateQueries({ queryKey: trpc.patient.list.pathKey() });
        router.push(`/patients/${patientId}?saved=registered`);
      },
      onError: (error) => {
        const e = readError(error);
        const fields: FieldErrors = {};
        for (const [path, message] of Object.entries(e.fieldErrors)) fields[formKeyOfPath(path)] = message;
        const rule = ruleOf(e);
        if (rule === "patient.mrn_taken") fields.mrn = "This MRN already belongs to another patient.";
        if (rule === "patient.dob_in_future") fields.dateOfBirth = "The date of birth cannot be in the future.";
        setErrors(fields);
        setFormError(
          Object.keys(fields).length > 0 ? "The patient was not registered. Check the highlighted fields." : friendlyMessage(e),
        );
        setAttempt((n) => n + 1);
      },
    }),
  );

  const onChange = (key: keyof RegisterForm, value: string) => {
    commandId.reset();
    setValues((v) => ({ ...v, [key]: value }));
    setErrors((e) => (e[key] ? { ...e, [key]: undefined } : e));
  };

  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    if (register.isPending) return;
    const mrn = values.mrn.trim().toUpperCase();
    const found: FieldErrors = { ...validateDemographics(values, new Date()) };
    const mrnError = validateMrn(mrn);
    if (mrnError) found.mrn = mrnError;
    const invalid = Object.fromEntries(Object.entries(found).filter(([, v]) => v));
    setErrors(invalid);
    if (Object.keys(invalid).length > 0) {
      setFormError("Check the highlighted fields.");
      setAttempt((n) => n + 1);
      return;
    }
    setFormError(null);
    register.mutate({ mrn, ...toDemographics(values), commandId: commandId.get() });
  };

  return (
    <>
      <nav className="crumbs" aria-label="Breadcrumb">
        <Link href="/patients">Patients</Link> <span aria-hidden="true">›</span> <span aria-current="page">Register</span>
      </nav>
      <h1>Register patient</h1>
      <p className="subtitle">Fields marked * are required. The MRN cannot be changed later.</p>
      <form ref={formRef} className="stack panel form-narrow" onSubmit={onSubmit} noValidate aria-labelledby="register-title">
        <h2 id="register-title" className="sr-only">
          Patient details
        </h2>
        <FormError message={formError} />
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
