// The patient aggregate: registration and demographic corrections.
import { z } from "zod";
import type { Decider } from "../../eventStore/types";
import { NotFoundError } from "../../errors";
import { text } from "../../input";
import { parseInput, refuse, toIso, unreachable, type CommandMetadata } from "../common";
import {
  changeReasonSchema,
  criticalFindingSchema,
  demographicFields,
  erasureReasonSchema,
  type Address,
  type Demographics,
  type DemographicsChanges,
  type PatientEvent,
} from "./events";
import { demographicsChangesInput, earliestInstantOfDate, latestDateOnEarth, registerPatientSchema } from "../../../shared/clinical/patients";
import {
  activeAllergies,
  alertFormSchema,
  allergyFormSchema,
  allergyReasonSchema,
  emptySafety,
  foldText,
  type Allergy,
  type PatientSafety,
} from "../../../shared/clinical/safety";

// ---- commands -------------------------------------------------------------------------------

/** The API can reuse these (e.g. `.omit({ patientId: true })`): ids are minted by the handler. */
export const registerPatientInput = registerPatientSchema.extend({ patientId: z.uuid() });
export type RegisterPatientData = z.input<typeof registerPatientInput>;

export { demographicsChangesInput, latestDateOnEarth };

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

/** Allergies and alerts: the form's fields (shared with the console) plus the ids the handler mints. */
export const recordAllergyInput = allergyFormSchema.extend({ patientId: z.uuid(), allergyId: z.uuid() });
export const closeAllergyInput = z.object({ patientId: z.uuid(), allergyId: z.uuid(), reason: allergyReasonSchema });
export const recordAlertInput = alertFormSchema.extend({ patientId: z.uuid(), alertId: z.uuid() });
export const resolveAlertInput = z.object({ patientId: z.uuid(), alertId: z.uuid(), reason: allergyReasonSchema });

export type RecordAllergy = { type: "RecordAllergy"; data: z.input<typeof recordAllergyInput>; metadata: CommandMetadata };
export type RecordNoKnownAllergies = { type: "RecordNoKnownAllergies"; data: { patientId: string }; metadata: CommandMetadata };
/** Refuted: recorded in error. Resolved: real once, no longer present. */
export type CloseAllergy = { type: "RefuteAllergy" | "ResolveAllergy"; data: z.input<typeof closeAllergyInput>; metadata: CommandMetadata };
export type RecordAlert = { type: "RecordAlert"; data: z.input<typeof recordAlertInput>; metadata: CommandMetadata };
export type ResolveAlert = { type: "ResolveAlert"; data: z.input<typeof resolveAlertInput>; metadata: CommandMetadata };

export type PatientCommand =
  | RegisterPatient
  | UpdatePatientDemographics
  | FlagCriticalResult
  | RecordAllergy
  | RecordNoKnownAllergies
  | CloseAllergy
  | RecordAlert
  | ResolveAlert
  | ErasePatient;

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
      /** Allergies (every one ever recorded, with its status) and clinical alerts. */
      safety: PatientSafety;
    } & Demographics);

export const initialState = (): PatientState => ({ status: "unregistered" });

export function evolve(state: PatientState, event: PatientEvent): PatientState {
  switch (event.type) {
    case "PatientRegistered":
      return { status: "registered", active: true, safety: emptySafety(), ...event.data };
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
    case "AllergyRecorded":
    case "NoKnownAllergiesRecorded":
    case "AllergyRefuted":
    case "AllergyResolved":
    case "AlertRecorded":
    case "AlertResolved":
      if (state.status !== "registered") return state;
      return { ...state, safety: evolveSafety(state.safety, event) };
    default:
      return unreachable(event);
  }
}

type SafetyEvent = Extract<
  PatientEvent,
  { type: "AllergyRecorded" | "NoKnownAllergiesRecorded" | "AllergyRefuted" | "AllergyResolved" | "AlertRecorded" | "AlertResolved" }
>;

function withAllergyStatus(allergies: Allergy[], fallback: PatientSafety["allergyStatus"]): PatientSafety["allergyStatus"] {
  return allergies.some((a) => a.status === "active") ? "recorded" : fallback;
}

function evolveSafety(safety: PatientSafety, event: SafetyEvent): PatientSafety {
  switch (event.type) {
    case "AllergyRecorded": {
      const { patientId: _patientId, ...allergy } = event.data;
      return { ...safety, allergyStatus: "recorded", allergies: [...safety.allergies, { ...allergy, status: "active", statusReason: null }] };
    }
    case "NoKnownAllergiesRecorded":
      return { ...safety, allergyStatus: "none_known" };
    case "AllergyRefuted":
    case "AllergyResolved": {
      const status: Allergy["status"] = event.type === "AllergyRefuted" ? "refuted" : "resolved";
      const allergies = safety.allergies.map((a) => (a.allergyId === event.data.allergyId ? { ...a, status, statusReason: event.data.reason } : a));
      // The last active one gone: what is known is "recorded, none active", not "never asked".
      return { ...safety, allergies, allergyStatus: withAllergyStatus(allergies, safety.allergyStatus === "unknown" ? "unknown" : "none_known") };
    }
    case "AlertRecorded": {
      const { patientId: _patientId, ...alert } = event.data;
      return { ...safety, alerts: [...safety.alerts, { ...alert, active: true, resolvedReason: null }] };
    }
    case "AlertResolved":
      return { ...safety, alerts: safety.alerts.map((a) => (a.alertId === event.data.alertId ? { ...a, active: false, resolvedReason: event.data.reason } : a)) };
    default:
      return unreachable(event);
  }
}

// ---- decide ---------------------------------------------------------------------------------

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

function registeredPatient(state: PatientState, patientId: string): Extract<PatientState, { status: "registered" }> {
  if (state.status !== "registered") throw new NotFoundError("Patient", patientId);
  refuseErased(state);
  return state;
}

function recordAllergy(command: RecordAllergy, state: PatientState): PatientEvent[] {
  const patient = registeredPatient(state, command.data.patientId);
  const data = parseInput(recordAllergyInput, command.data);
  const substance = foldText(data.substance.text);
  const same = activeAllergies(patient.safety).find(
    (a) => (data.substance.code !== null && a.substance.code === data.substance.code) || foldText(a.substance.text) === substance,
  );
  if (same) refuse("patient.allergy_already_recorded", `An active allergy to ${same.substance.text} is already recorded`);
  return [
    {
      type: "AllergyRecorded",
      data: {
        patientId: patient.patientId,
        allergyId: data.allergyId,
        substance: data.substance,
        reaction: data.reaction,
        severity: data.severity,
        source: data.source,
        note: data.note,
      },
    },
  ];
}

function recordNoKnownAllergies(command: RecordNoKnownAllergies, state: PatientState): PatientEvent[] {
  const patient = registeredPatient(state, command.data.patientId);
  if (activeAllergies(patient.safety).length > 0) {
    refuse("patient.allergies_active", "Active allergies are recorded: refute or resolve them before recording no known allergies");
  }
  // Asked again and still none: nothing new to record.
  if (patient.safety.allergyStatus === "none_known") return [];
  return [{ type: "NoKnownAllergiesRecorded", data: { patientId: patient.patientId } }];
}

function closeAllergy(command: CloseAllergy, state: PatientState): PatientEvent[] {
  const patient = registeredPatient(state, command.data.patientId);
  const data = parseInput(closeAllergyInput, command.data);
  const allergy = patient.safety.allergies.find((a) => a.allergyId === data.allergyId);
  if (!allergy) throw new NotFoundError("Allergy", data.allergyId);
  if (allergy.status !== "active") refuse("patient.allergy_not_active", `The allergy to ${allergy.substance.text} is already ${allergy.status}`);
  const type = command.type === "RefuteAllergy" ? "AllergyRefuted" : "AllergyResolved";
  return [{ type, data: { patientId: patient.patientId, allergyId: allergy.allergyId, reason: data.reason } }];
}

function recordAlert(command: RecordAlert, state: PatientState): PatientEvent[] {
  const patient = registeredPatient(state, command.data.patientId);
  const data = parseInput(recordAlertInput, command.data);
  if (data.kind !== "other" && patient.safety.alerts.some((a) => a.active && a.kind === data.kind)) {
    refuse("patient.alert_already_active", "This alert is already active on the chart");
  }
  return [{ type: "AlertRecorded", data: { patientId: patient.patientId, alertId: data.alertId, kind: data.kind, note: data.note } }];
}

function resolveAlert(command: ResolveAlert, state: PatientState): PatientEvent[] {
  const patient = registeredPatient(state, command.data.patientId);
  const data = parseInput(resolveAlertInput, command.data);
  const alert = patient.safety.alerts.find((a) => a.alertId === data.alertId);
  if (!alert) throw new NotFoundError("Alert", data.alertId);
  if (!alert.active) refuse("patient.alert_not_active", "This alert is already resolved");
  return [{ type: "AlertResolved", data: { patientId: patient.patientId, alertId: alert.alertId, reason: data.reason } }];
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
    case "RecordAllergy":
      return recordAllergy(command, state);
    case "RecordNoKnownAllergies":
      return recordNoKnownAllergies(command, state);
    case "RefuteAllergy":
    case "ResolveAllergy":
      return closeAllergy(command, state);
    case "RecordAlert":
      return recordAlert(command, state);
    case "ResolveAlert":
      return resolveAlert(command, state);
    default:
      return unreachable(command);
  }
}

export const patientDecider: Decider<PatientCommand, PatientEvent, PatientState> = {
  aggregateType: "patient",
  initialState,
  evolve,
  decide,
  // 2: allergies and alerts (safety) joined the state. 3: snapshots sealed bound to their stream
  // and version (those of 2 no longer open: listed on the Admin page as not used by this build).
  // 4: the binding names the state version too (those of 3 no longer open, alike).
  stateVersion: 4,
};

// ---- what other aggregates' commands need to know about a patient ---------------------------

/**
 * Encounters and orders live in their own streams, so their deciders cannot see the patient.
 * The command handler loads the patient and passes this fact in the command (`data.patient`);
 * `patientCheck(state)` builds it from the loaded state.
 */
export type PatientCheck =
  | { exists: false }
  | {
      exists: true;
      active: boolean;
      /** Active ones: medication orders are checked against them. */
      allergies?: Allergy[];
      /** YYYY-MM-DD: nothing clinical is dated before it (refuseBeforeBirth). */
      dateOfBirth?: string;
    };

export const patientCheck = (state: PatientState): PatientCheck =>
  state.status === "registered"
    ? { exists: true, active: state.active, allergies: activeAllergies(state.safety), dateOfBirth: state.dateOfBirth }
    : { exists: false };

/**
 * Refuses a clinical time the user gave (a visit's start, an order's schedule) before the
 * patient's date of birth: before its first instant anywhere on Earth, so a newborn seen in their
 * first hours is never refused for the server's zone. Commands only: events already stored (and
 * a date of birth corrected later) load as they are.
 */
export function refuseBeforeBirth(check: PatientCheck, at: Date, rule: string, what: string): void {
  if (!check.exists || check.dateOfBirth === undefined) return;
  if (at.getTime() < earliestInstantOfDate(check.dateOfBirth)) {
    refuse(rule, `${what} ${toIso(at)} is before the patient's date of birth ${check.dateOfBirth}`);
  }
}

/** NotFoundError for an unknown patient (the API maps it to NOT_FOUND); refuses inactive ones. */
export function requireActivePatient(check: PatientCheck, patientId: string): void {
  if (!check.exists) throw new NotFoundError("Patient", patientId);
  if (!check.active) refuse("patient.inactive", `Patient ${patientId} is inactive`);
}
