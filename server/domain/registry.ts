// Every event type the store holds, registered once for its serializer.
import { createRegistry, type EventOf } from "../eventStore/serializer";
import { encounterEvents } from "./encounter/events";
import { orderEvents } from "./order/events";
import { patientEvents } from "./patient/events";
import { userEvents } from "./user/events";
import { operationsEvents } from "./operations/events";

export const clinicalEvents = [...patientEvents, ...encounterEvents, ...orderEvents] as const;
export type ClinicalEvent = EventOf<typeof clinicalEvents>;

/** Every stored event type's definition (the schema registry page and schema:check read them). */
export const eventDefinitions = [...clinicalEvents, ...userEvents, ...operationsEvents] as const;

/** Clinical events, the staff users' (created, roles changed) and operations (projection rebuilds). */
export const eventRegistry = createRegistry(eventDefinitions);
