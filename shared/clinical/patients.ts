// Patient identifiers, value lists, the demographics schemas and the console's patient forms.
// Pure (zod and data only), shared by the patient decider, the API's procedures and the forms.
import { z } from "zod";
import { personName, text } from "../text";

/** Medical record number: the hospital's own identifier, assigned at registration, immutable. */
export const mrnPattern = /^[A-Z0-9]{6,12}$/;
export const mrnSchema = z.string().regex(mrnPattern, "MRN must be 6 to 12 upper-case letters or digits");

export const sexValues = ["female", "male", "other", "unknown"] as const;
export type Sex = (typeof sexValues)[number];

/** Digits with the usual separators, optionally international (+). */
export const phonePattern = /^\+?\(?(?:\d[ ()./-]{0,2}){3,20}$/;

/** ISO 3166-1 alpha-2, so addresses stay comparable across sites. */
const countryPattern = /^[A-Z]{2}$/;

/**
 * A date of birth as YYYY-MM-DD: a real calendar date, 1900-01-01 or later. "Not in the future"
 * is the patient decider's rule (patient.dob_in_future): it needs the command's clock.
 */
export const dateOfBirthInput = z.iso
  .date("must be a date (YYYY-MM-DD)")
  .refine((d) => d >= "1900-01-01", "must be 1900-01-01 or later");

/**
 * The latest calendar date anywhere on Earth (UTC+14) at `now`: a baby born today in Kiribati
 * is not "born in the future" for a server on UTC.
 */
export function latestDateOnEarth(now: Date): string {
  return new Date(now.getTime() + 14 * 3_600_000).toISOString().slice(0, 10);
}

/**
 * The first instant of a calendar date anywhere on Earth (its midnight at UTC+14), in epoch
 * milliseconds; NaN for what is not a YYYY-MM-DD date. A time before it is before that date
 * wherever the patient was born.
 */
export function earliestInstantOfDate(date: string): number {
  return /^\d{4}-\d{2}-\d{2}$/.test(date) ? Date.parse(`${date}T00:00:00+14:00`) : Number.NaN;
}

// ---- the stored shapes and the commands' inputs ---------------------------------------------------

export const addressSchema = z.object({
  line1: text(200, { min: 1 }),
  line2: text(200, { min: 1 }).optional(),
  city: text(100, { min: 1 }),
  region: text(100, { min: 1 }).optional(),
  postalCode: text(20, { min: 1 }),
  country: z.string().regex(countryPattern, "country must be an ISO 3166-1 alpha-2 code, e.g. US"),
});
export type Address = z.output<typeof addressSchema>;

/** The fields PatientDemographicsUpdated may change (the MRN is not one of them). */
export const demographicsSchema = z.object({
  // May be empty: mononymous patients, and v1 records whose single name had no given part.
  givenName: text(100),
  familyName: text(100, { min: 1 }),
  dateOfBirth: z.iso.date(),
  sex: z.enum(sexValues),
  email: z.email().max(254).nullable(),
  phone: z.string().trim().regex(phonePattern, "phone must be digits with optional + ( ) - . separators").nullable(),
  address: addressSchema.nullable(),
});
export type Demographics = z.output<typeof demographicsSchema>;
export type DemographicField = keyof Demographics;
export const demographicFields = Object.keys(demographicsSchema.shape) as DemographicField[];

/** A demographic field named in a filter (the timeline's "changes to", its extract). */
export const demographicFieldInput = z.enum(demographicFields, "not a demographic field");

/** The events that can set a demographic field: the timeline's "changes to this field only". */
export const demographicFieldEventTypes = ["PatientRegistered", "PatientDemographicsUpdated"];

/**
 * Whether an event set this demographic field: the registration sets them all, an update those it
 * changed. The same test serves the timeline and its extract, so an extract holds what was shown.
 */
export function eventSetsField(event: { type: string; data: unknown }, field: DemographicField): boolean {
  if (event.type === "PatientRegistered") return true;
  if (event.type !== "PatientDemographicsUpdated") return false;
  // An erased patient's changes read as the erasure marker, not an object.
  const changes = (event.data as { changes?: unknown } | null)?.changes;
  return typeof changes === "object" && changes !== null && field in changes;
}

/**
 * The names as typed: NFC, and refused when they hold invisible characters, look-alike letters or
 * no letter (personName). Only inputs: the stored shape above reads events as they were written.
 */
const nameInputs = {
  givenName: personName("Given name", 100),
  familyName: personName("Family name", 100, { min: 1 }),
};

/** What registration sends (the handler mints the patient id). */
export const registerPatientSchema = z.object({
  mrn: mrnSchema,
  ...demographicsSchema.shape,
  ...nameInputs,
  dateOfBirth: dateOfBirthInput,
  email: demographicsSchema.shape.email.default(null),
  phone: demographicsSchema.shape.phone.default(null),
  address: demographicsSchema.shape.address.default(null),
});

/** The changes a client may send: as stored, with a date of birth bounded to what is plausible. */
export const demographicsChangesInput = z.strictObject({ ...demographicsSchema.shape, ...nameInputs, dateOfBirth: dateOfBirthInput }).partial();

export const changeReasonSchema = text(500, {
  min: 1,
  minMessage: "a reason for the change is required",
  maxMessage: "the reason may be at most 500 characters",
});

// ---- the console's patient forms ----------------------------------------------------------------
// Inputs hold strings; each field is checked with the bounds and patterns of the schemas above
// (the messages speak to the person at the form) and the output is what the commands take.
// shared/clinical/patients.unit.test.ts proves the outputs pass the commands' schemas.

export const addressKeys = ["line1", "line2", "city", "region", "postalCode", "country"] as const;

export type DemographicsForm = { [K in Exclude<DemographicField, "address"> | (typeof addressKeys)[number]]: string };

export const emptyDemographicsForm: DemographicsForm = {
  givenName: "",
  familyName: "",
  dateOfBirth: "",
  sex: "",
  email: "",
  phone: "",
  line1: "",
  line2: "",
  city: "",
  region: "",
  postalCode: "",
  country: "",
};

export const hasAddress = (f: DemographicsForm) => addressKeys.some((k) => f[k].trim() !== "");

/** The domain's values; key order of the address as the server normalizes it, so JSON compares. */
export function toDemographics(f: DemographicsForm): Demographics {
  const t = (s: string) => s.trim();
  return {
    givenName: t(f.givenName),
    familyName: t(f.familyName),
    dateOfBirth: f.dateOfBirth,
    sex: f.sex as Sex,
    email: t(f.email) || null,
    phone: t(f.phone) || null,
    address: hasAddress(f)
      ? {
          line1: t(f.line1),
          ...(t(f.line2) && { line2: t(f.line2) }),
          city: t(f.city),
          ...(t(f.region) && { region: t(f.region) }),
          postalCode: t(f.postalCode),
          country: t(f.country).toUpperCase(),
        }
      : null,
  };
}

const atMost = (max: number) => `At most ${max} characters.`;
/** Empty, or what `check` accepts (after trimming). */
const blankOr = (check: z.ZodType<string>, message: string) =>
  z.string().refine((v) => v.trim() === "" || check.safeParse(v.trim()).success, message);

const demographicFieldForms = {
  givenName: personName("Given name", 100, { maxMessage: atMost(100) }),
  familyName: personName("Family name", 100, { min: 1, minMessage: "Enter the family name.", maxMessage: atMost(100) }),
  dateOfBirth: z
    .string()
    .min(1, "Enter the date of birth.")
    .pipe(z.iso.date("Use the format YYYY-MM-DD."))
    .refine((d) => dateOfBirthInput.safeParse(d).success, "The date of birth must be 1900-01-01 or later.")
    // The decider's rule, checked against this browser's clock; the server's clock decides.
    .refine((d) => d <= latestDateOnEarth(new Date()), "The date of birth cannot be in the future."),
  sex: z.enum(sexValues, { error: "Choose the sex recorded for the patient." }),
  email: blankOr(demographicsSchema.shape.email.unwrap(), "Enter an email address like name@example.org."),
  phone: blankOr(z.string().regex(phonePattern), "Use digits with optional + ( ) - . separators."),
} satisfies Record<Exclude<DemographicField, "address">, z.ZodType>;

const addressForm = z
  .object({
    line1: text(200, { maxMessage: atMost(200) }),
    line2: text(200, { maxMessage: atMost(200) }),
    city: text(100, { maxMessage: atMost(100) }),
    region: text(100, { maxMessage: atMost(100) }),
    postalCode: text(20, { maxMessage: atMost(20) }),
    country: z.string(),
  })
  .superRefine((a, ctx) => {
    // All or nothing: an address is either cleared or complete.
    if (!addressKeys.some((k) => a[k].trim() !== "")) return;
    const need = (key: (typeof addressKeys)[number], message: string) => {
      if (!a[key].trim()) ctx.addIssue({ code: "custom", path: [key], message });
    };
    need("line1", "Enter the first address line, or clear the address.");
    need("city", "Enter the city.");
    need("postalCode", "Enter the postal code.");
    if (!countryPattern.test(a.country.trim().toUpperCase())) ctx.addIssue({ code: "custom", path: ["country"], message: "Enter a two-letter country code, e.g. US." });
  });

/**
 * The demographic fields as a form checks them; with `only`, just those fields (an edit checks
 * what the user changed, so a record stored under older rules can still be corrected elsewhere).
 */
function demographicsFormShape(only?: ReadonlySet<DemographicField>) {
  const pick = <S extends z.ZodType>(field: DemographicField, schema: S) => (!only || only.has(field) ? schema : z.string());
  const address = !only || only.has("address") ? addressForm.shape : Object.fromEntries(addressKeys.map((k) => [k, z.string()]));
  return {
    givenName: pick("givenName", demographicFieldForms.givenName),
    familyName: pick("familyName", demographicFieldForms.familyName),
    dateOfBirth: pick("dateOfBirth", demographicFieldForms.dateOfBirth),
    sex: pick("sex", demographicFieldForms.sex),
    email: pick("email", demographicFieldForms.email),
    phone: pick("phone", demographicFieldForms.phone),
    ...(address as typeof addressForm.shape),
  };
}

/** The address rules of a form object that holds the address keys flat. */
function addressRules(form: DemographicsForm, ctx: z.RefinementCtx) {
  const found = addressForm.safeParse(form);
  if (!found.success) for (const issue of found.error.issues) if (issue.code === "custom") ctx.addIssue({ code: "custom", path: issue.path, message: issue.message });
}

/** Registration: the MRN and every demographic field; the output is what `patient.register` takes. */
export const registerPatientFormSchema = z
  .object({
    mrn: z
      .string()
      .transform((v) => v.trim().toUpperCase())
      .pipe(z.string().min(1, "Enter the medical record number.").regex(mrnPattern, "6 to 12 upper-case letters or digits.")),
    ...demographicsFormShape(),
  })
  .superRefine((form, ctx) => addressRules(form, ctx))
  .transform(({ mrn, ...form }) => ({ mrn, ...toDemographics(form) }));
export type RegisterPatientForm = z.input<typeof registerPatientFormSchema>;

/**
 * The demographics edit: the fields the user changed (`edited`), and the reason, required once
 * something changed. The output keeps the form's strings: the screen diffs them against the
 * version it edits (see `changesBetween`).
 */
export function editDemographicsFormFor(edited: ReadonlySet<DemographicField>) {
  return z
    .object({
      ...demographicsFormShape(edited),
      reason:
        edited.size === 0
          ? z.string()
          : text(500, { min: 1, minMessage: "Say why the record is being changed.", maxMessage: atMost(500) }),
    })
    .superRefine((form, ctx) => {
      if (edited.has("address")) addressRules(form, ctx);
    });
}
export type EditDemographicsForm = DemographicsForm & { reason: string };
