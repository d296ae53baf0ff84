// The bench's events: a bench-local registry of three types shaped like the clinical ones
// (patient demographics, demographic changes, medication orders; 300-500 bytes of JSON), a
// generator, and a small decider whose fold every contender runs on what it reads.
import { randomUUID } from "node:crypto";
import { z } from "zod";
import { commandCausationId } from "../../server/eventStore/aggregate";
import { createRegistry, defineEvent } from "../../server/eventStore/serializer";
import type { Decider, DomainEvent, NewEvent } from "../../server/eventStore/types";

const address = z.object({
  line1: z.string().min(1).max(200),
  line2: z.string().min(1).max(200).optional(),
  city: z.string().min(1).max(100),
  region: z.string().min(1).max(100).optional(),
  postalCode: z.string().min(1).max(20),
  country: z.string().regex(/^[A-Z]{2}$/),
});
const phone = z.string().regex(/^\+?\(?(?:\d[ ()./-]{0,2}){3,20}$/);

export const PatientRegistered = defineEvent(
  "PatientRegistered",
  z.object({
    patientId: z.uuid(),
    mrn: z.string().regex(/^[A-Z0-9]{6,12}$/),
    givenName: z.string().max(100),
    familyName: z.string().min(1).max(100),
    dateOfBirth: z.iso.date(),
    sex: z.enum(["female", "male", "other", "unknown"]),
    email: z.email().nullable(),
    phone: phone.nullable(),
    address: address.nullable(),
  }),
);

export const PatientDemographicsUpdated = defineEvent(
  "PatientDemographicsUpdated",
  z.object({
    patientId: z.uuid(),
    changes: z.object({ phone: phone.nullable(), address: address.nullable() }).partial(),
    previous: z.object({ phone: phone.nullable(), address: address.nullable() }).partial(),
    reason: z.string().min(1).max(500),
  }),
);

export const OrderPlaced = defineEvent(
  "OrderPlaced",
  z.object({
    orderId: z.uuid(),
    patientId: z.uuid(),
    encounterId: z.uuid(),
    kind: z.enum(["lab", "imaging", "medication", "procedure", "referral"]),
    priority: z.enum(["routine", "urgent", "stat"]),
    details: z.object({
      code: z.string().min(1).max(64).optional(),
      description: z.string().min(1).max(1000),
      dose: z.string().min(1).max(100).optional(),
      route: z.string().min(1).max(100).optional(),
      frequency: z.string().min(1).max(100).optional(),
    }),
    orderedBy: z.string().min(1),
  }),
);

export const benchRegistry = createRegistry([PatientRegistered, PatientDemographicsUpdated, OrderPlaced]);
export const aggregateType = "patient";

const given = ["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Leslie"];
const family = ["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson", "Perlman", "Lamport"];
const streets = ["Elm Street", "Oak Avenue", "Maple Road", "Cedar Lane", "Birch Boulevard"];
const cities = [
  ["Springfield", "IL", "62704"],
  ["Portland", "OR", "97205"],
  ["Madison", "WI", "53703"],
  ["Burlington", "VT", "05401"],
] as const;
const drugs = [
  ["RX-197361", "Amoxicillin 500 mg oral capsule", "500 mg", "oral", "every 8 hours"],
  ["RX-310965", "Ibuprofen 400 mg oral tablet", "400 mg", "oral", "every 6 hours as needed"],
  ["RX-860975", "Metformin 1000 mg extended release tablet", "1000 mg", "oral", "once daily with the evening meal"],
] as const;

const pick = <T>(items: readonly T[], n: number): T => items[n % items.length]!;

function addressFor(n: number) {
  const [city, region, postalCode] = pick(cities, n);
  return { line1: `${100 + (n % 900)} ${pick(streets, n)}`, line2: `Apartment ${1 + (n % 40)}`, city, region, postalCode, country: "US" };
}

const phoneFor = (n: number) => `+1 555-${String(1000 + (n % 9000))}-${String(2000 + ((n * 7) % 7000))}`;

/** The payload of the event at `version` of a patient stream: registration first, then orders and changes. */
export function payloadFor(patientId: string, version: number): DomainEvent {
  if (version === 1) {
    const g = pick(given, version + patientId.charCodeAt(0));
    const f = pick(family, patientId.charCodeAt(1));
    return {
      type: "PatientRegistered",
      data: {
        patientId,
        mrn: `MRN${patientId.slice(0, 6).toUpperCase().replace(/[^A-Z0-9]/g, "7")}`,
        givenName: g,
        familyName: f,
        dateOfBirth: `19${50 + (version % 50)}-0${1 + (version % 9)}-1${version % 10}`,
        sex: pick(["female", "male", "other", "unknown"] as const, patientId.charCodeAt(2)),
        email: `${g.toLowerCase()}.${f.toLowerCase()}@example.org`,
        phone: phoneFor(version),
        address: addressFor(version),
      },
    };
  }
  if (version % 4 === 0) {
    return {
      type: "PatientDemographicsUpdated",
      data: {
        patientId,
        changes: { phone: phoneFor(version), address: addressFor(version) },
        previous: { phone: phoneFor(version - 4), address: addressFor(version - 4) },
        reason: "Patient moved; confirmed at front desk check-in",
      },
    };
  }
  const [code, description, dose, route, frequency] = pick(drugs, version);
  return {
    type: "OrderPlaced",
    data: {
      orderId: randomUUID(),
      patientId,
      encounterId: randomUUID(),
      kind: "medication",
      priority: pick(["routine", "urgent", "stat"] as const, version),
      details: { code, description, dose, route, frequency },
      orderedBy: "user-clinician-0042",
    },
  };
}

const userIds = ["user-clinician-0042", "user-clinician-0077", "user-nurse-0113"];

/** `count` new events for the stream at versions from+1 .. from+count, with full envelopes. */
export function batchFor(streamId: string, fromVersion: number, count: number): NewEvent[] {
  const patientId = streamId.slice(streamId.indexOf("-") + 1);
  const correlationId = randomUUID();
  // As the app's commands write them (handleCommand): every event of a command names the
  // command as its cause; only events a handler raises name an event.
  const causationId = commandCausationId(randomUUID());
  const occurredAt = new Date();
  const events: NewEvent[] = [];
  for (let i = 1; i <= count; i++) {
    const eventId = randomUUID();
    events.push({
      ...payloadFor(patientId, fromVersion + i),
      eventId,
      occurredAt,
      userId: pick(userIds, fromVersion + i),
      correlationId,
      causationId,
    });
  }
  return events;
}

export const newStreamId = (): string => `patient-${randomUUID()}`;

/** What the fold keeps of a patient: small, JSON, like a snapshot-able aggregate state. */
export type BenchState = {
  patientId: string | null;
  mrn: string | null;
  name: string | null;
  phone: string | null;
  city: string | null;
  orders: number;
  recentOrderCodes: string[];
  changes: number;
};

type BenchEvent = { type: string; data: Record<string, unknown> };

export function evolve(state: BenchState, event: BenchEvent): BenchState {
  const d = event.data;
  switch (event.type) {
    case "PatientRegistered":
      return {
        ...state,
        patientId: d.patientId as string,
        mrn: d.mrn as string,
        name: `${d.givenName as string} ${d.familyName as string}`,
        phone: d.phone as string | null,
        city: (d.address as { city: string } | null)?.city ?? null,
      };
    case "PatientDemographicsUpdated": {
      const changes = d.changes as { phone?: string | null; address?: { city: string } | null };
      return {
        ...state,
        phone: changes.phone === undefined ? state.phone : changes.phone,
        city: changes.address === undefined ? state.city : (changes.address?.city ?? null),
        changes: state.changes + 1,
      };
    }
    case "OrderPlaced": {
      const code = (d.details as { code?: string }).code ?? "?";
      return { ...state, orders: state.orders + 1, recentOrderCodes: [code, ...state.recentOrderCodes].slice(0, 5) };
    }
    default:
      return state;
  }
}

export const initialState = (): BenchState => ({
  patientId: null,
  mrn: null,
  name: null,
  phone: null,
  city: null,
  orders: 0,
  recentOrderCodes: [],
  changes: 0,
});

/** The decider the store's aggregate loader takes; the bench never decides, it only folds. */
export const benchDecider: Decider<never, DomainEvent, BenchState> = {
  aggregateType,
  initialState,
  evolve: (state, event) => evolve(state, event),
  decide: () => [],
  stateVersion: 1,
};

/** The replay fold: one pass over the whole log, counting by type and keeping the last position. */
export type ReplayState = { events: number; byType: Record<string, number>; lastStream: string | null };
export const initialReplay = (): ReplayState => ({ events: 0, byType: {}, lastStream: null });
export function foldReplay(state: ReplayState, type: string, streamId: string): ReplayState {
  state.events += 1;
  state.byType[type] = (state.byType[type] ?? 0) + 1;
  state.lastStream = streamId;
  return state;
}
