// Every event type the store holds, registered once for its serializer.
import { createRegistry, type EventOf } from "../eventStore/serializer";
import { encounterEvents } from "./encounter/events";
import { MedicationAllergyOverridden, OrderCreated, OrderStatusChanged, orderEvents } from "./order/events";
import {
  AlertRecorded,
  AlertResolved,
  AllergyRecorded,
  AllergyRefuted,
  AllergyResolved,
  CriticalResultFlagged,
  NoKnownAllergiesRecorded,
  PatientDemographicsUpdated,
  PatientErased,
  PatientRegistered,
  patientEvents,
} from "./patient/events";
import { userEvents } from "./user/events";
import { operationsEvents } from "./operations/events";

export const clinicalEvents = [...patientEvents, ...encounterEvents, ...orderEvents] as const;
export type ClinicalEvent = EventOf<typeof clinicalEvents>;

/** Every stored event type's definition (the schema registry page and schema:check read them). */
export const eventDefinitions = [...clinicalEvents, ...userEvents, ...operationsEvents] as const;

/** Clinical events, the staff users' (created, roles changed) and operations (projection rebuilds). */
export const eventRegistry = createRegistry(eventDefinitions);

/**
 * What the audit console groups event types under, in this order: one group per aggregate, and
 * the patient's safety facts (allergies, alerts, critical results, and orders placed over an
 * allergy) in a group of their own, though their streams are the patient's and the order's: it
 * is where a compliance officer looks for them. Every registered type is in exactly one group
 * (registry.unit.test.ts); a new type needs one, or it would be filed under "Other".
 */
const group = (category: string, label: string, definitions: readonly { type: string }[]) => ({ category, label, types: definitions.map((d) => d.type) });

export const eventCategories = [
  group("patient", "Patient", [PatientRegistered, PatientDemographicsUpdated, PatientErased]),
  group("safety", "Safety: allergies, alerts, critical results", [
    AllergyRecorded,
    NoKnownAllergiesRecorded,
    AllergyRefuted,
    AllergyResolved,
    MedicationAllergyOverridden,
    AlertRecorded,
    AlertResolved,
    CriticalResultFlagged,
  ]),
  group("encounter", "Encounter", encounterEvents),
  group("order", "Order", [OrderCreated, OrderStatusChanged]),
  group("user", "Staff users", userEvents),
  group("operations", "Operations", operationsEvents),
];

/**
 * These types in their groups (eventCategories' order, each group's types in its order); a type
 * no group names (a type this build does not know) goes in a last "Other" group, never dropped.
 */
export function groupEventTypes(types: readonly string[]): { category: string; label: string; types: string[] }[] {
  const wanted = new Set(types);
  const groups = eventCategories.map((c) => ({ ...c, types: c.types.filter((t) => wanted.has(t)) }));
  const named = new Set(eventCategories.flatMap((c) => c.types));
  const other = types.filter((t) => !named.has(t));
  return [...groups, { category: "other", label: "Other", types: other }].filter((g) => g.types.length > 0);
}
