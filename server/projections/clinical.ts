// Inline clinical read models. Each row is a pure function of its aggregate's folded state
// (patientRow, encounterRow, orderRow), so the tables can be rebuilt by folding the log.
import { InvariantError } from "../errors";
import type { Db, InlineProjector } from "../eventStore";
import type { PatientState } from "../domain/patient/decider";
import type { EncounterState } from "../domain/encounter/decider";
import type { OrderState } from "../domain/order/decider";
import type { OrderPriority } from "../domain/order/events";
import { Prisma } from "../db/generated/client";
import { isErased, PHI_ERASED } from "../eventStore/phi";
import type { PatientSafety } from "../../shared/clinical/safety";

type Registered = Extract<PatientState, { status: "registered" }>;
type Started = Exclude<EncounterState, { status: "not_started" }>;
type Created = Exclude<OrderState, { status: "not_created" }>;

export const priorityRank: Record<OrderPriority, number> = { stat: 0, urgent: 1, routine: 2 };

export const sortKeyOf = (familyName: string, givenName: string) => `${familyName} ${givenName}`.trim().toLowerCase();

export function patientRow(state: Registered, version: number, at: Date) {
  // Erased (or folded from events whose key is gone): the row stays, its PHI masked, its MRN a
  // tombstone that keeps the unique index and matches no real MRN (erasure.ts masks alike).
  if (state.erasedAt || isErased(state.mrn)) {
    return {
      patientId: state.patientId,
      mrn: `ERASED-${state.patientId}`,
      givenName: PHI_ERASED,
      familyName: PHI_ERASED,
      dateOfBirth: null,
      // A change of sex is sealed with the patient's key: what a rebuild reads once it is gone.
      sex: PHI_ERASED,
      email: null,
      phone: null,
      address: null,
      active: false,
      sortKey: `~erased ${state.patientId}`,
      // What the patient's allergies and alerts were is PHI too: the row keeps the empty shape.
      safety: { allergyStatus: "unknown", allergies: [], alerts: [] } satisfies PatientSafety as unknown as Prisma.InputJsonValue,
      version,
      updatedAt: at,
      erasedAt: state.erasedAt ? new Date(state.erasedAt) : at,
    };
  }
  return {
    patientId: state.patientId,
    mrn: state.mrn,
    givenName: state.givenName,
    familyName: state.familyName,
    dateOfBirth: new Date(`${state.dateOfBirth}T00:00:00Z`),
    sex: state.sex,
    email: state.email,
    phone: state.phone,
    address: (state.address ?? null) as Prisma.InputJsonValue | null,
    active: state.active,
    sortKey: sortKeyOf(state.familyName, state.givenName),
    safety: state.safety as unknown as Prisma.InputJsonValue,
    version,
    updatedAt: at,
    erasedAt: null,
  };
}

export function encounterRow(state: Started, version: number, at: Date) {
  const done = state.status === "completed" ? state : null;
  return {
    encounterId: state.encounterId,
    patientId: state.patientId,
    providerId: state.providerId,
    encounterType: state.encounterType,
    status: state.status,
    reason: state.reason,
    location: state.location,
    startedAt: new Date(state.startedAt),
    endedAt: done ? new Date(done.endedAt) : null,
    outcome: done?.outcome ?? null,
    dischargeDisposition: done?.dischargeDisposition ?? null,
    durationMinutes: done?.durationMinutes ?? null,
    version,
    updatedAt: at,
  };
}

export function orderRow(state: Created, version: number, at: Date) {
  return {
    orderId: state.orderId,
    patientId: state.patientId,
    encounterId: state.encounterId,
    providerId: state.providerId,
    kind: state.kind,
    description: state.details.description,
    details: state.details as Prisma.InputJsonValue,
    priority: state.priority,
    priorityRank: priorityRank[state.priority],
    status: state.status,
    statusReason: state.statusReason,
    resultData: (state.resultData ?? null) as Prisma.InputJsonValue | null,
    scheduledFor: state.scheduledFor ? new Date(state.scheduledFor) : null,
    statusChangedAt: state.statusChangedAt ? new Date(state.statusChangedAt) : at,
    version,
  };
}

/** Prisma stores SQL NULL in a Json column only through its DbNull sentinel. */
const json = (v: Prisma.InputJsonValue | null) => v ?? Prisma.DbNull;

function isMrnConflict(error: unknown): boolean {
  const e = error as { code?: string; meta?: unknown };
  return e?.code === "P2002" && JSON.stringify(e.meta ?? {}).includes("mrn");
}

export const projectPatient: InlineProjector<PatientState> = async (tx: Db, { events, state, version }) => {
  if (state.status !== "registered") return;
  const at = events.at(-1)!.metadata.occurredAt;
  const row = patientRow(state, version, at);
  const data = { ...row, address: json(row.address) };
  try {
    await tx.rmPatient.upsert({
      where: { patientId: row.patientId },
      create: { ...data, registeredAt: events[0]!.metadata.occurredAt },
      update: data,
      select: { patientId: true },
    });
  } catch (error) {
    if (isMrnConflict(error)) {
      throw new InvariantError(`MRN ${state.mrn} already belongs to another patient`, "patient.mrn_taken");
    }
    throw error;
  }
};

export const projectEncounter: InlineProjector<EncounterState> = async (tx, { events, state, version }) => {
  if (state.status === "not_started") return;
  const row = encounterRow(state, version, events.at(-1)!.metadata.occurredAt);
  await tx.rmEncounter.upsert({ where: { encounterId: row.encounterId }, create: row, update: row, select: { encounterId: true } });
};

export const projectOrder: InlineProjector<OrderState> = async (tx, { events, state, version }) => {
  if (state.status === "not_created") return;
  const at = events.at(-1)!.metadata.occurredAt;
  const row = orderRow(state, version, at);
  const data = { ...row, resultData: json(row.resultData) };
  await tx.rmOrder.upsert({
    where: { orderId: row.orderId },
    create: { ...data, createdAt: events[0]!.metadata.occurredAt },
    update: data,
    select: { orderId: true },
  });
};
