// Patient identifiers and value lists. Pure, shared by the patient decider and the console's forms.
import { z } from "zod";

/** Medical record number: the hospital's own identifier, assigned at registration, immutable. */
export const mrnPattern = /^[A-Z0-9]{6,12}$/;
export const mrnSchema = z.string().regex(mrnPattern, "MRN must be 6 to 12 upper-case letters or digits");

export const sexValues = ["female", "male", "other", "unknown"] as const;
export type Sex = (typeof sexValues)[number];

/** Digits with the usual separators, optionally international (+). */
export const phonePattern = /^\+?\(?(?:\d[ ()./-]{0,2}){3,20}$/;
