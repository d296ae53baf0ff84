// Every clinical event type, registered once for the store's serializer.
import { createRegistry, type EventOf } from "../eventStore/serializer";
import { encounterEvents } from "./encounter/events";
import { orderEvents } from "./order/events";
import { patientEvents } from "./patient/events";
import { userEvents } from "./user/events";

// Staff user events ride along: one registry for every event type the store holds.
export const clinicalEvents = [...patientEvents, ...encounterEvents, ...orderEvents, ...userEvents] as const;
export type ClinicalEvent = EventOf<typeof clinicalEvents>;

export const clinicalRegistry = createRegistry(clinicalEvents);
