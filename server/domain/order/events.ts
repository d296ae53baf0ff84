// Order events: a provider's request (lab, imaging, medication, ...) and its status over time.
import { z } from "zod";
import { defineEvent, type EventOf } from "../../eventStore/serializer";
import { text } from "../../input";
import { userIdSchema } from "../common";
import { allergyOverrideReasonSchema, drugClasses } from "../../../shared/clinical/safety";

// The value lists live in shared/, where the console's forms read them too.
export {
  orderKinds,
  orderPriorities,
  orderStatuses,
  resultingKinds,
  type OrderKind,
  type OrderPriority,
  type OrderStatus,
} from "../../../shared/clinical/orders";
import { orderKinds, orderPriorities, orderStatuses } from "../../../shared/clinical/orders";

const detailText = (max: number) => text(max, { min: 1 });

export const orderDetailsSchema = z.object({
  /** A coding system's code (LOINC, RxNorm, CPT, ...), when the order was picked from one. */
  code: detailText(64).optional(),
  description: detailText(1000),
  // Medication orders only:
  dose: detailText(100).optional(),
  route: detailText(100).optional(),
  frequency: detailText(100).optional(),
});
export type OrderDetails = z.output<typeof orderDetailsSchema>;
export const medicationDetailFields = ["dose", "route", "frequency"] as const;

/** Any JSON object: result formats vary by lab and modality. */
export const resultDataSchema = z.record(z.string(), z.json());
export type ResultData = z.output<typeof resultDataSchema>;

export const OrderCreated = defineEvent(
  "OrderCreated",
  z.object({
    orderId: z.uuid(),
    patientId: z.uuid(),
    encounterId: z.uuid().nullable(),
    providerId: userIdSchema,
    kind: z.enum(orderKinds),
    details: orderDetailsSchema,
    priority: z.enum(orderPriorities),
    scheduledFor: z.iso.datetime().nullable(),
  }),
  // What was ordered tells what the patient has; kind, priority and times stay clear for reports.
  { phi: { fields: ["details.*"] } },
);

export const OrderStatusChanged = defineEvent(
  "OrderStatusChanged",
  z.object({
    orderId: z.uuid(),
    previousStatus: z.enum(orderStatuses),
    newStatus: z.enum(orderStatuses),
    /** Required when cancelling; optional otherwise. */
    reason: text(500, { min: 1 }).nullable(),
    /** Set when a lab or imaging order completes. */
    resultData: resultDataSchema.nullable(),
    changedAt: z.iso.datetime(),
  }),
  { phi: { fields: ["reason", "resultData"] } },
);

/**
 * A medication was ordered although it matches an active allergy of the patient: the clinician's
 * reason, and which allergies it ran into. Written with the OrderCreated it excuses, so
 * compliance finds every override in the log. PHI: conflicts[].substance and reason.
 */
export const MedicationAllergyOverridden = defineEvent(
  "MedicationAllergyOverridden",
  z.object({
    orderId: z.uuid(),
    patientId: z.uuid(),
    conflicts: z
      .array(
        z.object({
          allergyId: z.uuid(),
          substance: text(200, { min: 1 }),
          matchedBy: z.enum(["substance", "class"]),
          drugClass: z.enum(drugClasses).nullable(),
        }),
      )
      .min(1)
      .max(50),
    reason: allergyOverrideReasonSchema,
  }),
  // The conflicting substances name the patient's allergies: the list is sealed whole.
  { phi: { fields: ["conflicts", "reason"] } },
);

export const orderEvents = [OrderCreated, OrderStatusChanged, MedicationAllergyOverridden] as const;
export type OrderEvent = EventOf<typeof orderEvents>;
