"use client";
// The demographic inputs shared by registration and the demographics edit.
import { sexValues } from "@/shared/clinical/patients";
import { addressKeys, hasAddress, type DemographicsForm } from "./demographics";
import { Field, Options, fieldProps, type FieldErrors } from "./form";

type Props = {
  values: DemographicsForm;
  errors: FieldErrors;
  onChange: (key: keyof DemographicsForm, value: string) => void;
  /** Keys the user changed from the record's current values, marked beside their labels. */
  edited?: ReadonlySet<string>;
};

export function DemographicsFields({ values, errors, onChange, edited }: Props) {
  const text = (key: keyof DemographicsForm, hint?: string) => ({
    ...fieldProps(key, errors[key], hint),
    value: values[key],
    onChange: (e: { target: { value: string } }) => onChange(key, e.target.value),
  });
  const mark = (key: string) =>
    edited?.has(key) ? (
      <span className="edited-mark" title="Changed by you">
        {" "}
        · edited
      </span>
    ) : null;

  return (
    <>
      <div className="row">
        <Field id="givenName" label="Given name" badge={mark("givenName")} error={errors.givenName} optional>
          <input {...text("givenName")} autoComplete="off" maxLength={100} />
        </Field>
        <Field id="familyName" label="Family name" badge={mark("familyName")} error={errors.familyName} required>
          <input {...text("familyName")} autoComplete="off" maxLength={100} required />
        </Field>
      </div>
      <div className="row">
        <Field id="dateOfBirth" label="Date of birth" badge={mark("dateOfBirth")} error={errors.dateOfBirth} required>
          <input {...text("dateOfBirth")} type="date" required />
        </Field>
        <Field id="sex" label="Sex" badge={mark("sex")} error={errors.sex} required>
          <select {...text("sex")} required>
            <option value="">Choose…</option>
            <Options values={sexValues} />
          </select>
        </Field>
      </div>
      <div className="row">
        <Field id="email" label="Email" badge={mark("email")} error={errors.email} optional>
          <input {...text("email")} type="email" autoComplete="off" maxLength={254} />
        </Field>
        <Field id="phone" label="Phone" badge={mark("phone")} error={errors.phone} hint="Digits, with optional + ( ) - . separators" optional>
          <input {...text("phone", "Digits, with optional + ( ) - . separators")} type="tel" autoComplete="off" />
        </Field>
      </div>
      <fieldset className="group">
        <legend>
          Address <span className="opt">(optional)</span>
          {mark("address")}
        </legend>
        {errors.address ? (
          <p className="error" id="address-error">
            {errors.address}
          </p>
        ) : null}
        <div className="row">
          <Field id="line1" label="Address line 1" error={errors.line1} required={hasAddress(values)}>
            <input {...text("line1")} autoComplete="off" maxLength={200} />
          </Field>
          <Field id="line2" label="Address line 2" error={errors.line2} optional>
            <input {...text("line2")} autoComplete="off" maxLength={200} />
          </Field>
        </div>
        <div className="row">
          <Field id="city" label="City" error={errors.city} required={hasAddress(values)}>
            <input {...text("city")} autoComplete="off" maxLength={100} />
          </Field>
          <Field id="region" label="Region / state" error={errors.region} optional>
            <input {...text("region")} autoComplete="off" maxLength={100} />
          </Field>
        </div>
        <div className="row">
          <Field id="postalCode" label="Postal code" error={errors.postalCode} required={hasAddress(values)}>
            <input {...text("postalCode")} autoComplete="off" maxLength={20} />
          </Field>
          <Field id="country" label="Country" error={errors.country} hint="Two-letter ISO code, e.g. US" required={hasAddress(values)}>
            <input
              {...text("country", "Two-letter ISO code, e.g. US")}
              onChange={(e) => onChange("country", e.target.value.toUpperCase())}
              autoComplete="off"
              maxLength={2}
              className="short"
            />
          </Field>
        </div>
        {hasAddress(values) ? (
          <div className="actions">
            <button
              type="button"
              className="secondary small"
              onClick={() => {
                for (const k of addressKeys) onChange(k, "");
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
