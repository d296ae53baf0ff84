// Order value lists (kinds, priorities, statuses) and the place-order form's schema. Pure, shared by
// the order decider and the console's forms and filters.

import { z } from "zod";
import { text } from "../text";
import { allergyConflicts, allergyOverrideReasonSchema, type Allergy } from "./safety";

export const orderKinds = ["lab", "imaging", "medication", "procedure", "referral"] as const;
export type OrderKind = (typeof orderKinds)[number];

export const orderPriorities = ["routine", "urgent", "stat"] as const;
export type OrderPriority = (typeof orderPriorities)[number];

export const orderStatuses = ["placed", "on_hold", "in_progress", "completed", "cancelled"] as const;
export type OrderStatus = (typeof orderStatuses)[number];

/** Kinds whose completion carries the result itself (values, report text). */
export const resultingKinds: readonly OrderKind[] = ["lab", "imaging"];

// ---- the console's order form -------------------------------------------------------------------
// What the place-order form holds (strings, as inputs give them), checked with the rules the
// server applies to the command (server/domain/order/events.ts: orderDetailsSchema).

const optionalDetail = (max: number) => text(max, { maxMessage: `At most ${max} characters.` });

export const placeOrderFormSchema = z.object({
  kind: z.enum(orderKinds),
  priority: z.enum(orderPriorities),
  encounterId: z.string(),
  description: text(1000, { min: 1, minMessage: "Describe what is ordered.", maxMessage: "At most 1000 characters." }),
  code: optionalDetail(64),
  dose: optionalDetail(100),
  route: optionalDetail(100),
  frequency: optionalDetail(100),
  /** A datetime-local value, or empty. */
  scheduledFor: z.string().refine((v) => v === "" || !Number.isNaN(new Date(v).getTime()), "Enter a date and time."),
  allergyOverrideReason: z.string(),
});
export type PlaceOrderForm = z.input<typeof placeOrderFormSchema>;

/**
 * The form's schema for one patient: a medication that matches an active allergy needs the
 * override reason (the decider's rule, checked before sending). `serverConflict` when the server
 * refused for an allergy this screen did not know of yet.
 */
export function placeOrderFormFor(allergies: readonly Allergy[], serverConflict: boolean) {
  return placeOrderFormSchema.superRefine((form, ctx) => {
    const conflicts = form.kind === "medication" ? allergyConflicts({ description: form.description, code: form.code }, allergies) : [];
    if (conflicts.length === 0 && !serverConflict) return;
    const reason = allergyOverrideReasonSchema.safeParse(form.allergyOverrideReason);
    if (!reason.success) {
      ctx.addIssue({ code: "custom", path: ["allergyOverrideReason"], message: `To order it despite the allergy, ${reason.error.issues[0]?.message ?? "give a reason"}.` });
    }
  });
}
