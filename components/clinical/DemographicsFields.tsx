"use client";
// The demographic inputs shared by registration and the demographics edit, bound to the form's
// react-hook-form state (the schemas are shared/clinical/patients.ts').
import type { ChangeEvent } from "react";
import { useWatch, type UseFormReturn } from "react-hook-form";
import { errorOf } from "@/components/forms/useSchemaForm";
import { addressKeys, hasAddress, sexValues, type DemographicsForm } from "@/shared/clinical/patients";
import { Field, Options, fieldProps } from "./form";

type Props = {
  /** A form whose values hold the demographic keys (and maybe more: the MRN, a reason). */
  form: UseFormReturn<DemographicsForm>;
  /** Keys the user changed from the record's current values, marked beside their labels. */
  edited?: ReadonlySet<string>;
};

/** The input as typed, upper-cased in place (codes such as the country). */
export const upperCased = <E extends ChangeEvent<HTMLInputElement>>(onChange: (e: E) => unknown) => (e: E) => {
  e.target.value = e.target.value.toUpperCase();
  return onChange(e);
};

export function DemographicsFields({ form, edited }: Props) {
  const { register, setValue, control } = form;
  const errors = form.formState.errors as Record<string, unknown>;
  const values = useWatch({ control }) as DemographicsForm;
  const text = (key: keyof DemographicsForm, hint?: string) => ({
    ...fieldProps(key, errorOf(errors, key), hint),
    ...register(key),
  });
  const country = register("country");
  const mark = (key: string) =>
    edited?.has(key) ? (
      <span className="edited-mark" title="Changed by you">
        {" "}
        · edited
      </span>
    ) : null;
  const withAddress = hasAddress({ ...values });

  return (
    <>
      <div className="row">
        <Field id="givenName" label="Given name" badge={mark("givenName")} error={errorOf(errors, "givenName")} optional>
          <input {...text("givenName")} autoComplete="off" maxLength={100} />
        </Field>
        <Field id="familyName" label="Family name" badge={mark("familyName")} error={errorOf(errors, "familyName")} required>
          <input {...text("familyName")} autoComplete="off" maxLength={100} required />
        </Field>
      </div>
      <div className="row">
        <Field id="dateOfBirth" label="Date of birth" badge={mark("dateOfBirth")} error={errorOf(errors, "dateOfBirth")} required>
          <input {...text("dateOfBirth")} type="date" required />
        </Field>
        <Field id="sex" label="Sex" badge={mark("sex")} error={errorOf(errors, "sex")} required>
          <select {...text("sex")} required>
            <option value="">Choose…</option>
            <Options values={sexValues} />
          </select>
        </Field>
      </div>
      <div className="row">
        <Field id="email" label="Email" badge={mark("email")} error={errorOf(errors, "email")} optional>
          <input {...text("email")} type="email" autoComplete="off" maxLength={254} />
        </Field>
        <Field id="phone" label="Phone" badge={mark("phone")} error={errorOf(errors, "phone")} hint="Digits, with optional + ( ) - . separators" optional>
          <input {...text("phone", "Digits, with optional + ( ) - . separators")} type="tel" autoComplete="off" />
        </Field>
      </div>
      <fieldset className="group">
        <legend>
          Address <span className="opt">(optional)</span>
          {mark("address")}
        </legend>
        <div className="row">
          <Field id="line1" label="Address line 1" error={errorOf(errors, "line1")} required={withAddress}>
            <input {...text("line1")} autoComplete="off" maxLength={200} />
          </Field>
          <Field id="line2" label="Address line 2" error={errorOf(errors, "line2")} optional>
            <input {...text("line2")} autoComplete="off" maxLength={200} />
          </Field>
        </div>
        <div className="row">
          <Field id="city" label="City" error={errorOf(errors, "city")} required={withAddress}>
            <input {...text("city")} autoComplete="off" maxLength={100} />
          </Field>
          <Field id="region" label="Region / state" error={errorOf(errors, "region")} optional>
            <input {...text("region")} autoComplete="off" maxLength={100} />
          </Field>
        </div>
        <div className="row">
          <Field id="postalCode" label="Postal code" error={errorOf(errors, "postalCode")} required={withAddress}>
            <input {...text("postalCode")} autoComplete="off" maxLength={20} />
          </Field>
          <Field id="country" label="Country" error={errorOf(errors, "country")} hint="Two-letter ISO code, e.g. US" required={withAddress}>
            <input
              {...text("country", "Two-letter ISO code, e.g. US")}
              onChange={upperCased(country.onChange)}
              autoComplete="off"
              maxLength={2}
              className="short"
            />
          </Field>
        </div>
        {withAddress ? (
          <div className="actions">
            <button
              type="button"
              className="secondary small"
              onClick={() => {
                for (const k of addressKeys) setValue(k, "", { shouldDirty: true, shouldValidate: form.formState.isSubmitted });
              }}
            >
              Clear address
            </button>
          </div>
        ) : null}
      </fieldset>
    </>
  );
}
