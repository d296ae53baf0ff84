// The order aggregate: created for a known patient (and optionally an open encounter of theirs),
// then moved through a status state machine.
import { z } from "zod";
import type { Decider } from "../../eventStore/types";
import { NotFoundError, ValidationError } from "../../errors";
import { clinicalInstant } from "../../input";
import { parseInput, refuse, toIso, unreachable, userIdSchema, type CommandMetadata } from "../common";
import type { EncounterCheck } from "../encounter/decider";
import { refuseBeforeBirth, requireActivePatient, type PatientCheck } from "../patient/decider";
import { allergyConflicts, allergyOverrideReasonSchema } from "../../../shared/clinical/safety";
import {
  medicationDetailFields,
  orderDetailsSchema,
  orderKinds,
  orderPriorities,
  resultingKinds,
  type OrderDetails,
  type OrderEvent,
  type OrderKind,
  type OrderPriority,
  type OrderStatus,
  type ResultData,
} from "./events";

// ---- the status state machine ---------------------------------------------------------------

/**
 * Allowed next statuses from each status. Exported so the UI offers only these.
 * on_hold -> placed is "resume"; completed and cancelled are final.
 */
export const orderTransitions: { readonly [S in OrderStatus]: readonly OrderStatus[] } = {
  placed: ["in_progress", "on_hold", "cancelled"],
  on_hold: ["placed", "cancelled"],
  in_progress: ["completed", "cancelled"],
  completed: [],
  cancelled: [],
};

export const isFinalStatus = (status: OrderStatus): boolean => orderTransitions[status].length === 0;

export const canTransition = (from: OrderStatus, to: OrderStatus): boolean => orderTransitions[from].includes(to);

// ---- commands -------------------------------------------------------------------------------

export const createOrderInput = z.object({
  orderId: z.uuid(),
  patientId: z.uuid(),
  encounterId: z.uuid().nullish(),
  providerId: userIdSchema,
  kind: z.enum(orderKinds),
  details: orderDetailsSchema,
  priority: z.enum(orderPriorities).default("routine"),
  scheduledFor: clinicalInstant.nullish(),
  /** Orders a medication despite a matching active allergy; ignored when nothing matches. */
  allergyOverrideReason: allergyOverrideReasonSchema.nullish(),
});
export type CreateOrderData = z.input<typeof createOrderInput> & {
  /** Resolved by the handler from the patient's stream: this decider cannot see it. */
  patient: PatientCheck;
  /** Required when `encounterId` is given: resolved by the handler from the encounter's stream. */
  encounter?: EncounterCheck | null;
};

// The status change's input (and the result's bounds) live in shared/, where the console's form reads them.
export { changeOrderStatusInput, resultDataInput } from "../../../shared/clinical/orders";
import { changeOrderStatusInput } from "../../../shared/clinical/orders";
export type ChangeOrderStatusData = z.input<typeof changeOrderStatusInput>;

export type CreateOrder = { type: "CreateOrder"; data: CreateOrderData; metadata: CommandMetadata };
/** `changedAt` is `metadata.now`: a status change is recorded when it is made. */
export type ChangeOrderStatus = { type: "ChangeOrderStatus"; data: ChangeOrderStatusData; metadata: CommandMetadata };
export type OrderCommand = CreateOrder | ChangeOrderStatus;

// ---- state ----------------------------------------------------------------------------------

export type OrderState =
  | { status: "not_created" }
  | {
      status: OrderStatus;
      orderId: string;
      patientId: string;
      encounterId: string | null;
      providerId: string;
      kind: OrderKind;
      details: OrderDetails;
      priority: OrderPriority;
      scheduledFor: string | null;
      /** The reason given with the latest status change, if any. */
      statusReason: string | null;
      statusChangedAt: string | null;
      resultData: ResultData | null;
    };

export const initialState = (): OrderState => ({ status: "not_created" });

export function evolve(state: OrderState, event: OrderEvent): OrderState {
  switch (event.type) {
    case "OrderCreated":
      return {
        status: "placed",
        ...event.data,
        statusReason: null,
        statusChangedAt: null,
        resultData: null,
      };
    case "MedicationAllergyOverridden":
      // A fact for compliance and the history: the order itself is as created.
      return state;
    case "OrderStatusChanged":
      // Stored events are facts: evolve folds history and never refuses it.
      if (state.status === "not_created") return state;
      return {
        ...state,
        status: event.data.newStatus,
        statusReason: event.data.reason,
        statusChangedAt: event.data.changedAt,
        resultData: event.data.resultData ?? state.resultData,
      };
    default:
      return unreachable(event);
  }
}

// ---- decide ---------------------------------------------------------------------------------

function create(command: CreateOrder, state: OrderState): OrderEvent[] {
  if (state.status !== "not_created") {
    refuse("order.already_created", `Order ${state.orderId} already exists`);
  }
  const data = parseInput(createOrderInput, command.data);
  requireActivePatient(command.data.patient, data.patientId);
  if (data.scheduledFor) refuseBeforeBirth(command.data.patient, data.scheduledFor, "order.scheduled_before_birth", "Scheduled time");

  if (data.kind !== "medication") {
    const field = medicationDetailFields.find((f) => data.details[f] !== undefined);
    if (field) throw new ValidationError(`details.${field} applies to medication orders only`, `details.${field}`);
  }

  const encounterId = data.encounterId ?? null;
  if (encounterId !== null) {
    const encounter = command.data.encounter;
    // A wiring bug in the handler, not a user error: fail loudly rather than skip the checks.
    if (!encounter) throw new Error("CreateOrder with an encounterId needs data.encounter resolved by the handler");
    if (!encounter.exists) throw new NotFoundError("Encounter", encounterId);
    if (encounter.patientId !== data.patientId) {
      refuse("order.encounter_patient_mismatch", `Encounter ${encounterId} belongs to another patient`);
    }
    if (encounter.status === "completed") {
      refuse("order.encounter_completed", `Encounter ${encounterId} is completed: no new orders`);
    }
  }

  const patient = command.data.patient;
  const conflicts = data.kind === "medication" && patient.exists ? allergyConflicts(data.details, patient.allergies ?? []) : [];
  const override = data.allergyOverrideReason ?? null;
  if (conflicts.length > 0 && override === null) {
    const names = [...new Set(conflicts.map((c) => c.substance))].join(", ");
    refuse("order.allergy_conflict", `The patient has a recorded allergy to ${names}: give a reason to order it anyway`);
  }

  const created: OrderEvent = {
    type: "OrderCreated",
    data: {
      orderId: data.orderId,
      patientId: data.patientId,
      encounterId,
      providerId: data.providerId,
      kind: data.kind,
      // A detail sent as undefined (superjson keeps the key) is left out: sealed as PHI it would
      // be stored as null, which the event's schema refuses on every later read of the order.
      details: Object.fromEntries(Object.entries(data.details).filter(([, v]) => v !== undefined)) as OrderDetails,
      priority: data.priority,
      scheduledFor: data.scheduledFor ? toIso(data.scheduledFor) : null,
    },
  };
  if (conflicts.length === 0) return [created];
  return [created, { type: "MedicationAllergyOverridden", data: { orderId: data.orderId, patientId: data.patientId, conflicts, reason: override! } }];
}

function changeStatus(command: ChangeOrderStatus, state: OrderState): OrderEvent[] {
  if (state.status === "not_created") throw new NotFoundError("Order", command.data.orderId);
  const data = parseInput(changeOrderStatusInput, command.data);
  const from = state.status;
  const to = data.newStatus;

  // Like a demographics update that changes nothing: repeating the current status (a double
  // click on "cancel") records nothing.
  if (to === from) return [];
  if (isFinalStatus(from)) refuse("order.final_status", `Order is ${from}: its status can no longer change`);
  if (!canTransition(from, to)) refuse("order.illegal_transition", `An order cannot go from ${from} to ${to}`);

  const reason = data.reason ? data.reason : null;
  if (to === "cancelled" && reason === null) refuse("order.reason_required", "Cancelling an order requires a reason");

  const resultData = data.resultData ?? null;
  const expectsResult = to === "completed" && resultingKinds.includes(state.kind);
  if (expectsResult && (resultData === null || Object.keys(resultData).length === 0)) {
    refuse("order.result_required", `Completing a ${state.kind} order requires its result`);
  }
  if (!expectsResult && resultData !== null) {
    refuse("order.result_not_allowed", "Results are recorded only when completing a lab or imaging order");
  }

  return [
    {
      type: "OrderStatusChanged",
      data: {
        orderId: state.orderId,
        previousStatus: from,
        newStatus: to,
        reason,
        resultData,
        changedAt: toIso(command.metadata.now),
      },
    },
  ];
}

export function decide(command: OrderCommand, state: OrderState): OrderEvent[] {
  switch (command.type) {
    case "CreateOrder":
      return create(command, state);
    case "ChangeOrderStatus":
      return changeStatus(command, state);
    default:
      return unreachable(command);
  }
}

export const orderDecider: Decider<OrderCommand, OrderEvent, OrderState> = {
  aggregateType: "order",
  initialState,
  evolve,
  decide,
  // 2: snapshots sealed bound to their stream and version (those of 1 no longer open: listed on
  // the Admin page as not used by this build). 3: the binding names the state version too (those
  // of 2 no longer open, alike).
  stateVersion: 3,
};
