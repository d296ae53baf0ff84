"use client";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useRouter } from "next/navigation";
import type { UseFormReturn } from "react-hook-form";
import { errorOf, formAlert, useSchemaForm } from "@/components/forms/useSchemaForm";
import { useTRPC } from "@/components/trpc";
import { emptyDemographicsForm, registerPatientFormSchema, type DemographicsForm } from "@/shared/clinical/patients";
import { DemographicsFields, upperCased } from "./DemographicsFields";
import { formKeyOfPath } from "./demographics";
import { friendlyMessage, ruleOf } from "./errors";
import { Field, FormError, fieldProps } from "./form";
import { Crumbs } from "./PageParts";

export function RegisterPatient() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const router = useRouter();
  const { form, commandId, formError, setFormError, failFromServer } = useSchemaForm(registerPatientFormSchema, { ...emptyDemographicsForm, mrn: "" });
  const errors = form.formState.errors as Record<string, unknown>;
  const mrn = form.register("mrn");

  const register = useMutation(
    trpc.patient.register.mutationOptions({
      // A re-sent command id answers with the patient its first attempt registered.
      onSuccess: async ({ patientId }) => {
        commandId.reset();
        await queryClient.invalidateQueries({ queryKey: trpc.patient.list.pathKey() });
        router.push(`/patients/${patientId}?saved=registered`);
      },
      onError: (error) =>
        failFromServer(
          error,
          (e, marked) => (Object.keys(marked).length > 0 ? "The patient was not registered. Check the highlighted fields." : friendlyMessage(e)),
          {
            keyOf: formKeyOfPath,
            fields: (e) => ({
              mrn: ruleOf(e) === "patient.mrn_taken" ? "This MRN already belongs to another patient." : undefined,
              dateOfBirth: ruleOf(e) === "patient.dob_in_future" ? "The date of birth cannot be in the future." : undefined,
            }),
          },
        ),
    }),
  );

  const onSubmit = form.handleSubmit((values) => {
    if (register.isPending) return;
    setFormError(null);
    register.mutate({ ...values, commandId: commandId.get() });
  });

  return (
    <>
      <Crumbs current="Register" />
      <h1>Register patient</h1>
      <p className="subtitle">Fields marked * are required. The MRN cannot be changed later.</p>
      <form className="stack panel form-narrow" onSubmit={onSubmit} noValidate aria-labelledby="register-title">
        <h2 id="register-title" className="sr-only">
          Patient details
        </h2>
        <FormError message={formAlert(formError, errors)} />
        <div className="row">
          <Field id="mrn" label="Medical record number (MRN)" error={errorOf(errors, "mrn")} hint="6 to 12 upper-case letters or digits" required>
            <input
              {...fieldProps("mrn", errorOf(errors, "mrn"), "6 to 12 upper-case letters or digits")}
              {...mrn}
              onChange={upperCased(mrn.onChange)}
              autoComplete="off"
              maxLength={12}
              className="mono"
              required
            />
          </Field>
          <div className="field spacer" aria-hidden="true" />
        </div>
        <DemographicsFields form={form as unknown as UseFormReturn<DemographicsForm>} />
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
