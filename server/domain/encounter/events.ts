// Encounter events: a visit of a patient with a provider, from start to completion.
import { z } from "zod";
import { defineEvent, type EventOf, type Upcaster } from "../../eventStore/serializer";
import { text } from "../../input";
import { userIdSchema } from "../common";

// The value lists live in shared/, where the console's forms read them too.
export { dischargeDispositions, encounterTypes, type DischargeDisposition, type EncounterType } from "../../../shared/clinical/encounters";
import { dischargeDispositions, encounterTypes } from "../../../shared/clinical/encounters";

// v2 adds where the patient is (ward, room, bed, clinic); v1 events had none.
const encounterStartedV1ToV2: Upcaster = (data) => ({ ...data, location: data.location ?? null });

export const EncounterStarted = defineEvent(
  "EncounterStarted",
  z.object({
    encounterId: z.uuid(),
    patientId: z.uuid(),
    providerId: userIdSchema,
    encounterType: z.enum(encounterTypes),
    startedAt: z.iso.datetime(),
    /** Reason for the visit; null when none was given. */
    reason: text(500, { min: 1 }).nullable(),
    /** Where the patient is seen (ward, room, bed, clinic); null when not given. */
    location: text(100, { min: 1 }).nullable().default(null),
  }),
  { version: 2, upcasters: { 1: encounterStartedV1ToV2 }, phi: { fields: ["reason", "location"] } },
);

export const EncounterCompleted = defineEvent(
  "EncounterCompleted",
  z.object({
    encounterId: z.uuid(),
    endedAt: z.iso.datetime(),
    outcome: text(2000, { min: 1 }),
    dischargeDisposition: z.enum(dischargeDispositions),
    /** Whole minutes from startedAt to endedAt, stored so reports need not recompute it. */
    durationMinutes: z.int().nonnegative(),
  }),
  // Carries no patient id: sealed under the stream's patient (its EncounterStarted's).
  { phi: { fields: ["outcome"] } },
);

export const encounterEvents = [EncounterStarted, EncounterCompleted] as const;
export type EncounterEvent = EventOf<typeof encounterEvents>;
