// The patient aggregate: registration and demographic corrections.
import { z } from "zod";
import type { Decider } from "../../eventStore/types";
import { NotFoundError } from "../../errors";
import { dateOfBirthInput, text } from "../../input";
import { parseInput, refuse, toIso, unreachable, type CommandMetadata } from "../common";
import {
  changeReasonSchema,
  criticalFindingSchema,
  demographicFields,
  demographicsSchema,
  erasureReasonSchema,
  mrnSchema,
  type Address,
  type Demographics,
  type DemographicsChanges,
  type PatientEvent,
} from "./events";

// ---- commands -------------------------------------------------------------------------------

/** The API can reuse these (e.g. `.omit({ patientId: true })`): ids are minted by the handler. */
export const registerPatientInput = z.object({
  patientId: z.uuid(),
  mrn: mrnSchema,
  ...demographicsSchema.shape,
  dateOfBirth: dateOfBirthInput,
  email: demographicsSchema.shape.email.default(null),
  phone: demographicsSchema.shape.phone.default(null),
  address: demographicsSchema.shape.address.default(null),
});
export type RegisterPatientData = z.input<typeof registerPatientInput>;

/** The changes a client may send: as stored, with a date of birth bounded to what is plausible. */
export const demographicsChangesInput = z.strictObject({ ...demographicsSchema.shape, dateOfBirth: dateOfBirthInput }).partial();

export const updatePatientDemographicsInput = z.object({
  patientId: z.uuid(),
  /** Fields left out (or undefined) are untouched; `null` clears email, phone or address. */
  changes: demographicsChangesInput,
  /** Checked only when something actually changes: a no-op needs no justification. */
  reason: text(500, { trim: false }),
});
export type UpdatePatientDemographicsData = z.input<typeof updatePatientDemographicsInput>;

export type RegisterPatient = { type: "RegisterPatient"; data: RegisterPatientData; metadata: CommandMetadata };
export type UpdatePatientDemographics = {
  type: "UpdatePatientDemographics";
  data: UpdatePatientDemographicsData;
  metadata: CommandMetadata;
};
/** Sent by the reaction to a completed lab order whose result has critical values. */
export const flagCriticalResultInput = z.object({
  patientId: z.uuid(),
  orderId: z.uuid(),
  orderKind: z.string().min(1).max(50),
  orderDescription: z.string().trim().min(1).max(1000),
  findings: z.array(criticalFindingSchema).min(1).max(100),
  resultedAt: z.date(),
});
export type FlagCriticalResult = { type: "FlagCriticalResult"; data: z.input<typeof flagCriticalResultInput>; metadata: CommandMetadata };

export const erasePatientInput = z.object({ patientId: z.uuid(), reason: erasureReasonSchema });
export type ErasePatient = { type: "ErasePatient"; data: z.input<typeof erasePatientInput>; metadata: CommandMetadata };

export type PatientCommand = RegisterPatient | UpdatePatientDemographics | FlagCriticalResult | ErasePatient;

// ---- state ----------------------------------------------------------------------------------

export type PatientState =
  | { status: "unregistered" }
  | ({
      status: "registered";
      patientId: string;
      mrn: string;
      /** Inactive patients get no new encounters or orders (an erased patient is inactive). */
      active: boolean;
      /** Set once the patient was erased: their PHI reads "erased" and nothing more is recorded. */
      erasedAt?: string;
    } & Demographics);

export const initialState = (): PatientState => ({ status: "unregistered" });

export function evolve(state: PatientState, event: PatientEvent): PatientState {
  switch (event.type) {
    case "PatientRegistered":
      return { status: "registered", active: true, ...event.data };
    case "PatientDemographicsUpdated":
      // Stored events are facts: evolve folds history and never refuses it.
      if (state.status !== "registered") return state;
      return { ...state, ...event.data.changes };
    case "CriticalResultFlagged":
      // A notice on the chart: it changes nothing about who the patient is.
      return state;
    case "PatientErased":
      if (state.status !== "registered") return state;
      return { ...state, active: false, erasedAt: event.data.erasedAt };
    default:
      return unreachable(event);
  }
}

// ---- decide ---------------------------------------------------------------------------------

/**
 * The latest calendar date anywhere on Earth (UTC+14) at `now`: a baby born today in Kiribati
 * is not "born in the future" for a server on UTC.
 */
export function latestDateOnEarth(now: Date): string {
  return new Date(now.getTime() + 14 * 3_600_000).toISOString().slice(0, 10);
}

function assertDobNotInFuture(dateOfBirth: string, now: Date): void {
  if (dateOfBirth > latestDateOnEarth(now)) {
    refuse("patient.dob_in_future", `Date of birth ${dateOfBirth} is in the future`);
  }
}

/** Fixed key order and no undefined keys, so equal addresses compare equal as JSON. */
function normalizeAddress(address: Address): Address {
  return {
    line1: address.line1,
    ...(address.line2 !== undefined && { line2: address.line2 }),
    city: address.city,
    ...(address.region !== undefined && { region: address.region }),
    postalCode: address.postalCode,
    country: address.country,
  };
}

function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function register(command: RegisterPatient, state: PatientState): PatientEvent[] {
  if (state.status === "registered") {
    refuse("patient.already_registered", `Patient ${state.patientId} is already registered`);
  }
  const data = parseInput(registerPatientInput, command.data);
  assertDobNotInFuture(data.dateOfBirth, command.metadata.now);
  return [
    {
      type: "PatientRegistered",
      data: {
        patientId: data.patientId,
        mrn: data.mrn,
        givenName: data.givenName,
        familyName: data.familyName,
        dateOfBirth: data.dateOfBirth,
        sex: data.sex,
        email: data.email,
        phone: data.phone,
        address: data.address && normalizeAddress(data.address),
      },
    },
  ];
}

function refuseErased(state: Extract<PatientState, { status: "registered" }>): void {
  if (state.erasedAt) refuse("patient.erased", `Patient ${state.patientId} was erased: nothing more can be recorded about them`);
}

function updateDemographics(command: UpdatePatientDemographics, state: PatientState): PatientEvent[] {
  if (state.status !== "registered") throw new NotFoundError("Patient", command.data.patientId);
  refuseErased(state);
  const data = parseInput(updatePatientDemographicsInput, command.data);

  const changes: Record<string, unknown> = {};
  const previous: Record<string, unknown> = {};
  for (const field of demographicFields) {
    const raw = data.changes[field];
    if (raw === undefined) continue;
    const next = field === "address" && raw !== null ? normalizeAddress(raw as Address) : raw;
    const current = field === "address" && state.address !== null ? normalizeAddress(state.address) : state[field];
    if (sameValue(next, current)) continue;
    changes[field] = next;
    previous[field] = current;
  }
  if (Object.keys(changes).length === 0) return [];

  const reason = parseInput(changeReasonSchema, data.reason, "reason");
  if (typeof changes.dateOfBirth === "string") assertDobNotInFuture(changes.dateOfBirth, command.metadata.now);
  return [
    {
      type: "PatientDemographicsUpdated",
      data: {
        patientId: state.patientId,
        changes: changes as DemographicsChanges,
        previous: previous as DemographicsChanges,
        reason,
      },
    },
  ];
}

function flagCriticalResult(command: FlagCriticalResult, state: PatientState): PatientEvent[] {
  // An inactive patient still gets the flag: a critical value must reach the chart regardless.
  if (state.status !== "registered") throw new NotFoundError("Patient", command.data.patientId);
  refuseErased(state);
  const data = parseInput(flagCriticalResultInput, command.data);
  return [
    {
      type: "CriticalResultFlagged",
      data: {
        patientId: state.patientId,
        orderId: data.orderId,
        orderKind: data.orderKind,
        orderDescription: data.orderDescription,
        findings: data.findings,
        resultedAt: toIso(data.resultedAt),
      },
    },
  ];
}

function erase(command: ErasePatient, state: PatientState): PatientEvent[] {
  if (state.status !== "registered") throw new NotFoundError("Patient", command.data.patientId);
  refuseErased(state);
  const data = parseInput(erasePatientInput, command.data);
  return [{ type: "PatientErased", data: { patientId: state.patientId, reason: data.reason, erasedAt: toIso(command.metadata.now) } }];
}

export function decide(command: PatientCommand, state: PatientState): PatientEvent[] {
  switch (command.type) {
    case "RegisterPatient":
      return register(command, state);
    case "UpdatePatientDemographics":
      return updateDemographics(command, state);
    case "FlagCriticalResult":
      return flagCriticalResult(command, state);
    case "ErasePatient":
      return erase(command, state);
    default:
      return unreachable(command);
  }
}

export const patientDecider: Decider<PatientCommand, PatientEvent, PatientState> = {
  aggregateType: "patient",
  initialState,
  evolve,
  decide,
  stateVersion: 1,
};

// ---- what other aggregates' commands need to know about a patient ---------------------------

/**
 * Encounters and orders live in their own streams, so their deciders cannot see the patient.
 * The command handler loads the patient and passes this fact in the command (`data.patient`);
 * `patientCheck(state)` builds it from the loaded state.
 */
export type PatientCheck = { exists: false } | { exists: true; active: boolean };

export const patientCheck = (state: PatientState): PatientCheck =>
  state.status === "registered" ? { exists: true, active: state.active } : { exists: false };

/** NotFoundError for an unknown patient (the API maps it to NOT_FOUND); refuses inactive ones. */
export function requireActivePatient(check: PatientCheck, patientId: string): void {
  if (!check.exists) throw new NotFoundError("Patient", patientId);
  if (!check.active) refuse("patient.inactive", `Patient ${patientId} is inactive`);
}
