// Encounter value lists and the console's encounter form schemas. Pure, shared by the encounter
// decider and the console's forms.
import { z } from "zod";
import { text } from "../text";

export const encounterTypes = ["outpatient", "inpatient", "emergency", "telehealth", "home_visit"] as const;
export type EncounterType = (typeof encounterTypes)[number];

export const dischargeDispositions = [
  "home",
  "transferred",
  "admitted",
  "deceased",
  "left_against_advice",
  "other",
] as const;
export type DischargeDisposition = (typeof dischargeDispositions)[number];

// ---- the console's encounter forms ----------------------------------------------------------------
// What the start and complete forms hold, checked with the rules the encounter decider applies.

export const startEncounterFormSchema = z.object({
  encounterType: z.enum(encounterTypes, { error: "Choose the type of encounter." }),
  location: text(100, { maxMessage: "At most 100 characters." }),
  reason: text(500, { maxMessage: "At most 500 characters." }),
});

export const completeEncounterFormSchema = z.object({
  outcome: text(2000, { min: 1, minMessage: "Enter the outcome of the encounter.", maxMessage: "At most 2000 characters." }),
  dischargeDisposition: z.enum(dischargeDispositions, { error: "Choose the discharge disposition." }),
});
