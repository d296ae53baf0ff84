// Patient events: the stored payload shapes, validated on write (encode) and on read (decode).
import { z } from "zod";
import { defineEvent, type EventOf, type Upcaster } from "../../eventStore/serializer";
import { noPhi } from "../../eventStore/phi";
import { text } from "../../input";
import {
  alertKinds,
  allergyReasonSchema,
  allergySeverities,
  allergySources,
  allergySubstanceSchema,
} from "../../../shared/clinical/safety";

// Patterns, value lists and the demographics schemas live in shared/, where the console's forms
// and the API's procedures read them too.
export {
  addressSchema,
  changeReasonSchema,
  demographicFields,
  demographicsChangesInput,
  demographicsSchema,
  mrnPattern,
  mrnSchema,
  phonePattern,
  sexValues,
  type Address,
  type Demographics,
  type DemographicField,
  type Sex,
} from "../../../shared/clinical/patients";
import { changeReasonSchema, demographicsSchema, mrnSchema } from "../../../shared/clinical/patients";

/** Strict, so a stray key (an MRN, say) is refused rather than silently dropped. */
export const demographicsChangesSchema = z.strictObject(demographicsSchema.shape).partial();
export type DemographicsChanges = z.output<typeof demographicsChangesSchema>;

/** v1 stored one `name`; v2 splits it. The last word is taken as the family name. */
export function splitLegacyName(name: string): { givenName: string; familyName: string } {
  const words = name.trim().split(/\s+/);
  const familyName = words.pop() ?? "";
  return { givenName: words.join(" "), familyName };
}

// Only a v1 record's `name` is split; a payload without one is passed on for v2's schema to judge
// (it never invents an empty family name over one the payload has).
const patientRegisteredV1ToV2: Upcaster = ({ name, ...rest }) =>
  typeof name === "string" ? { ...rest, ...splitLegacyName(name) } : rest;

export const PatientRegistered = defineEvent(
  "PatientRegistered",
  z.object({ patientId: z.uuid(), mrn: mrnSchema, ...demographicsSchema.shape }),
  {
    version: 2,
    upcasters: { 1: patientRegisteredV1ToV2 },
    // Sex stays clear (no identifier, and reports may count by it); the MRN is sealed like the
    // names: it is one of HIPAA's identifiers, and the read model keeps it searchable.
    phi: { fields: ["mrn", "givenName", "familyName", "dateOfBirth", "email", "phone", "address"] },
  },
);

export const PatientDemographicsUpdated = defineEvent(
  "PatientDemographicsUpdated",
  z
    .object({
      patientId: z.uuid(),
      /** Only the fields that changed, with their new values. */
      changes: demographicsChangesSchema,
      /** The same keys, with the values they replaced: the audit trail reads diffs off one event. */
      previous: demographicsChangesSchema,
      reason: changeReasonSchema,
    })
    .refine(
      ({ changes, previous }) => {
        const keys = Object.keys(changes).sort();
        return keys.length > 0 && keys.join() === Object.keys(previous).sort().join();
      },
      { message: "changes and previous must name the same, non-empty set of fields" },
    ),
  // Which fields changed stays readable after an erasure; their values and the reason do not.
  { phi: { fields: ["changes.*", "previous.*", "reason"] } },
);

/** One critical (panic) value of a result, as the result flagged it. */
export const criticalFindingSchema = z.object({
  name: z.string().trim().min(1).max(200),
  value: z.union([z.number(), z.string().max(500)]).nullable(),
  unit: z.string().max(50).nullable(),
  flag: z.string().min(1).max(10),
});

/**
 * A completed lab order's result carried critical values: raised on the patient by a reaction
 * to the order's completion (its causation id is that event's id), so the chart shows it.
 */
export const CriticalResultFlagged = defineEvent(
  "CriticalResultFlagged",
  z.object({
    patientId: z.uuid(),
    orderId: z.uuid(),
    orderKind: z.string().min(1).max(50),
    orderDescription: z.string().trim().min(1).max(1000),
    findings: z.array(criticalFindingSchema).min(1).max(100),
    /** When the result was recorded (the order's completion). */
    resultedAt: z.iso.datetime(),
  }),
  { phi: { fields: ["orderDescription", "findings"] } },
);

/** The reason an admin gives for erasing a patient: it stays in clear, so it must not name them. */
export const erasureReasonSchema = text(500, {
  min: 10,
  minMessage: "give the reason for the erasure (at least 10 characters)",
  maxMessage: "the reason may be at most 500 characters",
});

/**
 * The patient was forgotten (crypto-shredding): their data key is destroyed in the same
 * transaction, so every earlier payload's PHI reads "erased" from now on. Who (user id) and when
 * are the event's own metadata; it holds no PHI itself.
 */
export const PatientErased = defineEvent(
  "PatientErased",
  z.object({ patientId: z.uuid(), reason: erasureReasonSchema, erasedAt: z.iso.datetime() }),
  { phi: noPhi },
);

// ---- allergies and clinical alerts ---------------------------------------------------------------
// PHI in these payloads: substance.text, reaction, note and reason (free text about the patient).

const nullableNote = (max: number) => text(max, { min: 1 }).nullable();

export const AllergyRecorded = defineEvent(
  "AllergyRecorded",
  z.object({
    patientId: z.uuid(),
    allergyId: z.uuid(),
    substance: allergySubstanceSchema,
    reaction: nullableNote(500),
    severity: z.enum(allergySeverities),
    source: z.enum(allergySources),
    note: nullableNote(1000),
  }),
  { phi: { fields: ["substance.text", "reaction", "note"] } },
);

/** The patient was asked and has no known allergies: not the same as nothing recorded. */
export const NoKnownAllergiesRecorded = defineEvent("NoKnownAllergiesRecorded", z.object({ patientId: z.uuid() }), { phi: noPhi });

/** Recorded in error (the patient tolerates it): kept in history, no longer checked. */
export const AllergyRefuted = defineEvent("AllergyRefuted", z.object({ patientId: z.uuid(), allergyId: z.uuid(), reason: allergyReasonSchema }), { phi: { fields: ["reason"] } });

/** Real once, no longer present (outgrown, desensitised): kept in history, no longer checked. */
export const AllergyResolved = defineEvent("AllergyResolved", z.object({ patientId: z.uuid(), allergyId: z.uuid(), reason: allergyReasonSchema }), { phi: { fields: ["reason"] } });

export const AlertRecorded = defineEvent(
  "AlertRecorded",
  z.object({ patientId: z.uuid(), alertId: z.uuid(), kind: z.enum(alertKinds), note: nullableNote(1000) }),
  { phi: { fields: ["note"] } },
);

export const AlertResolved = defineEvent("AlertResolved", z.object({ patientId: z.uuid(), alertId: z.uuid(), reason: allergyReasonSchema }), { phi: { fields: ["reason"] } });

export const patientEvents = [
  PatientRegistered,
  PatientDemographicsUpdated,
  CriticalResultFlagged,
  AllergyRecorded,
  NoKnownAllergiesRecorded,
  AllergyRefuted,
  AllergyResolved,
  AlertRecorded,
  AlertResolved,
  PatientErased,
] as const;
export type PatientEvent = EventOf<typeof patientEvents>;
