// Encounter value lists. Pure data, shared by the encounter decider and the console's forms.

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
