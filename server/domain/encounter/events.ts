// Encounter events: a visit of a patient with a provider, from start to completion.
import { z } from "zod";
import { defineEvent, type EventOf } from "../../eventStore/serializer";
import { text } from "../../input";
import { userIdSchema } from "../common";

// The value lists live in shared/, where the console's forms read them too.
export { dischargeDispositions, encounterTypes, type DischargeDisposition, type EncounterType } from "../../../shared/clinical/encounters";
import { dischargeDispositions, encounterTypes } from "../../../shared/clinical/encounters";

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
  }),
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
);

export const encounterEvents = [EncounterStarted, EncounterCompleted] as const;
export type EncounterEvent = EventOf<typeof encounterEvents>;
