// Every clinical event type, registered once for the store's serializer.
import { createRegistry, type EventOf } from "../eventStore/serializer";
import { encounterEvents } from "./encounter/events";
import { orderEvents } from "./order/events";
import { patientEvents } from "./patient/events";

export const clinicalEvents = [...patientEvents, ...encounterEvents, ...orderEvents] as const;
export type ClinicalEvent = EventOf<typeof clinicalEvents>;

export const clinicalRegistry = createRegistry(clinicalEvents);
