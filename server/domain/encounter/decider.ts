// The encounter aggregate: started once, completed once, never before it started.
import { z } from "zod";
import type { Decider } from "../../eventStore/types";
import { NotFoundError } from "../../errors";
import { clinicalInstant, text } from "../../input";
import { clockSkewToleranceMs, parseInput, refuse, toIso, unreachable, userIdSchema, type CommandMetadata } from "../common";
import { refuseBeforeBirth, requireActivePatient, type PatientCheck } from "../patient/decider";
import {
  dischargeDispositions,
  encounterTypes,
  type DischargeDisposition,
  type EncounterEvent,
  type EncounterType,
} from "./events";

// ---- commands -------------------------------------------------------------------------------

export const startEncounterInput = z.object({
  encounterId: z.uuid(),
  patientId: z.uuid(),
  providerId: userIdSchema,
  encounterType: z.enum(encounterTypes),
  /** Clinicians may record a visit after the fact; defaults to `metadata.now`. */
  startedAt: clinicalInstant.optional(),
  reason: text(500).nullish(),
  /** Ward, room, bed or clinic. */
  location: text(100).nullish(),
});
export type StartEncounterData = z.input<typeof startEncounterInput> & {
  /** Resolved by the handler from the patient's stream: this decider cannot see it. */
  patient: PatientCheck;
};

export const completeEncounterInput = z.object({
  encounterId: z.uuid(),
  /** Defaults to `metadata.now`. */
  endedAt: clinicalInstant.optional(),
  outcome: text(2000, { min: 1, minMessage: "an outcome is required" }),
  dischargeDisposition: z.enum(dischargeDispositions),
});
export type CompleteEncounterData = z.input<typeof completeEncounterInput>;

export type StartEncounter = { type: "StartEncounter"; data: StartEncounterData; metadata: CommandMetadata };
export type CompleteEncounter = { type: "CompleteEncounter"; data: CompleteEncounterData; metadata: CommandMetadata };
export type EncounterCommand = StartEncounter | CompleteEncounter;

// ---- state ----------------------------------------------------------------------------------

type StartedEncounter = {
  encounterId: string;
  patientId: string;
  providerId: string;
  encounterType: EncounterType;
  startedAt: string;
  reason: string | null;
  location: string | null;
};

export type EncounterStatus = "in_progress" | "completed";

export type EncounterState =
  | { status: "not_started" }
  | ({ status: "in_progress" } & StartedEncounter)
  | ({
      status: "completed";
      endedAt: string;
      outcome: string;
      dischargeDisposition: DischargeDisposition;
      durationMinutes: number;
    } & StartedEncounter);

export const initialState = (): EncounterState => ({ status: "not_started" });

export function evolve(state: EncounterState, event: EncounterEvent): EncounterState {
  switch (event.type) {
    case "EncounterStarted":
      return { status: "in_progress", ...event.data };
    case "EncounterCompleted":
      // Stored events are facts: evolve folds history and never refuses it.
      if (state.status === "not_started") return state;
      return {
        ...state,
        status: "completed",
        endedAt: event.data.endedAt,
        outcome: event.data.outcome,
        dischargeDisposition: event.data.dischargeDisposition,
        durationMinutes: event.data.durationMinutes,
      };
    default:
      return unreachable(event);
  }
}

// ---- decide ---------------------------------------------------------------------------------

/** Whole minutes elapsed (floored): 59 seconds is 0 minutes, as a clock on the wall shows. */
export function durationMinutes(startedAt: string, endedAt: string): number {
  return Math.floor((Date.parse(endedAt) - Date.parse(startedAt)) / 60_000);
}

function assertNotInFuture(at: Date, now: Date, rule: string, what: string): void {
  if (at.getTime() > now.getTime() + clockSkewToleranceMs) {
    refuse(rule, `${what} ${toIso(at)} is in the future`);
  }
}

function start(command: StartEncounter, state: EncounterState): EncounterEvent[] {
  if (state.status !== "not_started") {
    refuse("encounter.already_started", `Encounter ${state.encounterId} has already started`);
  }
  const data = parseInput(startEncounterInput, command.data);
  requireActivePatient(command.data.patient, data.patientId);
  const startedAt = data.startedAt ?? command.metadata.now;
  assertNotInFuture(startedAt, command.metadata.now, "encounter.starts_in_future", "Start time");
  refuseBeforeBirth(command.data.patient, startedAt, "encounter.starts_before_birth", "Start time");
  return [
    {
      type: "EncounterStarted",
      data: {
        encounterId: data.encounterId,
        patientId: data.patientId,
        providerId: data.providerId,
        encounterType: data.encounterType,
        startedAt: toIso(startedAt),
        reason: data.reason ? data.reason : null,
        location: data.location ? data.location : null,
      },
    },
  ];
}

function complete(command: CompleteEncounter, state: EncounterState): EncounterEvent[] {
  // Consistent with patients: a command on something that does not exist is NOT_FOUND.
  if (state.status === "not_started") throw new NotFoundError("Encounter", command.data.encounterId);
  if (state.status === "completed") {
    refuse("encounter.already_completed", `Encounter ${state.encounterId} is already completed`);
  }
  const data = parseInput(completeEncounterInput, command.data);
  const endedAt = toIso(data.endedAt ?? command.metadata.now);
  if (Date.parse(endedAt) < Date.parse(state.startedAt)) {
    refuse("encounter.ends_before_start", `End time ${endedAt} is before the start time ${state.startedAt}`);
  }
  assertNotInFuture(new Date(endedAt), command.metadata.now, "encounter.ends_in_future", "End time");
  return [
    {
      type: "EncounterCompleted",
      data: {
        encounterId: state.encounterId,
        endedAt,
        outcome: data.outcome,
        dischargeDisposition: data.dischargeDisposition,
        durationMinutes: durationMinutes(state.startedAt, endedAt),
      },
    },
  ];
}

export function decide(command: EncounterCommand, state: EncounterState): EncounterEvent[] {
  switch (command.type) {
    case "StartEncounter":
      return start(command, state);
    case "CompleteEncounter":
      return complete(command, state);
    default:
      return unreachable(command);
  }
}

export const encounterDecider: Decider<EncounterCommand, EncounterEvent, EncounterState> = {
  aggregateType: "encounter",
  initialState,
  evolve,
  decide,
  // 2: location joined the state. 3: snapshots sealed bound to their stream and version (those
  // of 2 no longer open: listed on the Admin page as not used by this build, to discard). 4: the
  // binding names the state version too (those of 3 no longer open, alike).
  stateVersion: 4,
  // A visit entered after the fact happened when the clinician says it did.
  occurredAt: (event) => (event.type === "EncounterStarted" ? event.data.startedAt : event.type === "EncounterCompleted" ? event.data.endedAt : undefined),
};

// ---- what order commands need to know about an encounter ------------------------------------

/** Passed in `CreateOrder.data.encounter` by the handler, which loads the encounter's stream. */
export type EncounterCheck = { exists: false } | { exists: true; patientId: string; status: EncounterStatus };

export const encounterCheck = (state: EncounterState): EncounterCheck =>
  state.status === "not_started" ? { exists: false } : { exists: true, patientId: state.patientId, status: state.status };
