"use client";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useEffect, useState } from "react";
import type { DuplicateCandidate } from "@/server/errors";
import type { UseFormReturn } from "react-hook-form";
import { errorOf, formAlert, useSchemaForm } from "@/components/forms/useSchemaForm";
import { useTRPC } from "@/components/trpc";
import { emptyDemographicsForm, registerPatientFormSchema, type DemographicsForm } from "@/shared/clinical/patients";
import { DemographicsFields, upperCased } from "./DemographicsFields";
import { formKeyOfPath } from "./demographics";
import { friendlyMessage, readError, ruleOf } from "./errors";
import { Field, FormError, fieldProps } from "./form";
import { Crumbs } from "./PageParts";

export function RegisterPatient() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const router = useRouter();
  const { form, commandId, formError, setFormError, failFromServer, markSaved } = useSchemaForm(registerPatientFormSchema, { ...emptyDemographicsForm, mrn: "" });
  const errors = form.formState.errors as Record<string, unknown>;
  const mrn = form.register("mrn");
  // Patients already registered who may be this person: shown before a second chart is made.
  const [candidates, setCandidates] = useState<DuplicateCandidate[] | null>(null);
  // The MRN is a patient this user registered: most likely an earlier send whose answer was lost.
  const [ownPatient, setOwnPatient] = useState<string | null>(null);
  // They were found for the name and birth date as sent: a change to either makes them stale
  // (the warning would name a match that no longer holds), so they go until the next try.
  useEffect(() => {
    const watching = form.watch((_, { name }) => {
      if (name === "givenName" || name === "familyName" || name === "dateOfBirth") setCandidates(null);
    });
    return () => watching.unsubscribe();
  }, [form]);

  const register = useMutation(
    trpc.patient.register.mutationOptions({
      // A re-sent command id answers with the patient its first attempt registered.
      onSuccess: async ({ patientId }) => {
        commandId.reset();
        markSaved();
        await queryClient.invalidateQueries({ queryKey: trpc.patient.list.pathKey() });
        router.push(`/patients/${patientId}?saved=registered`);
      },
      onError: (error) => {
        const domain = readError(error).domain;
        if (domain?.kind === "possible_duplicate") {
          setCandidates(domain.candidates);
          return;
        }
        const refusal = readError(error).domain;
        setOwnPatient(refusal?.kind === "invariant" && refusal.rule === "patient.mrn_yours" ? (refusal.patientId ?? null) : null);
        failFromServer(
          error,
          (e, marked) => (Object.keys(marked).length > 0 ? "The patient was not registered. Check the highlighted fields." : friendlyMessage(e)),
          {
            keyOf: formKeyOfPath,
            fields: (e) => ({
              mrn:
                ruleOf(e) === "patient.mrn_taken"
                  ? "This MRN already belongs to another patient."
                  : ruleOf(e) === "patient.mrn_yours"
                    ? "You already registered a patient with this MRN."
                    : undefined,
              dateOfBirth: ruleOf(e) === "patient.dob_in_future" ? "The date of birth cannot be in the future." : undefined,
            }),
          },
        );
      },
    }),
  );

  const onSubmit = form.handleSubmit((values) => {
    if (register.isPending) return;
    setFormError(null);
    setCandidates(null);
    setOwnPatient(null);
    register.mutate(commandId.stamped(values));
  });
  // "Not the same person": the candidates shown are named, and recorded with the registration.
  const registerAnyway = form.handleSubmit((values) => {
    if (register.isPending || !candidates) return;
    setFormError(null);
    register.mutate(commandId.stamped({ ...values, notDuplicateOf: candidates.map((c) => c.patientId) }));
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
        {ownPatient ? (
          <p className="alert warn" data-testid="own-registration">
            If you registered this patient a moment ago and the answer did not arrive, that registration went through.{" "}
            <Link href={`/patients/${ownPatient}`}>Open the chart you registered</Link>
          </p>
        ) : null}
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
        {candidates && candidates.length > 0 && (
          <section className="alert warn conflict" role="alert" aria-labelledby="duplicates-title" data-testid="possible-duplicates">
            <h3 id="duplicates-title">This patient may already be registered</h3>
            <p>
              {candidates.length === 1 ? "A patient with" : `${candidates.length} patients with`} the same name and date of birth{" "}
              {candidates.length === 1 ? "has" : "have"} a chart. A second chart splits the record: allergies and orders on one are not on the other.
            </p>
            <ul>
              {candidates.map((c) => (
                <li key={c.patientId}>
                  <Link href={`/patients/${c.patientId}`}>
                    {c.givenName} {c.familyName}
                  </Link>{" "}
                  <span className="mono">{c.mrn}</span>, born {c.dateOfBirth}, {c.sex}
                </li>
              ))}
            </ul>
            <button type="button" className="secondary" onClick={registerAnyway} disabled={register.isPending}>
              {candidates.length === 1 ? "Not the same person: register anyway" : "None of them: register anyway"}
            </button>
          </section>
        )}
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
