import { describe, expect, it } from "vitest";
import { eventRegistry } from "../registry";
import { given } from "../testing";
import { orderDecider, orderTransitions, type ChangeOrderStatus, type CreateOrder } from "./decider";
import { orderStatuses, type OrderEvent, type OrderKind, type OrderStatus } from "./events";

const orderId = "3d2c1b0a-9f8e-4d7c-8b6a-5f4e3d2c1b0a";
const patientId = "0b8f5a8e-3c1d-4e7a-9f2b-6d4c3b2a1e0f";
const otherPatientId = "1c9e6b9f-4d2e-4f8b-8a3c-7e5d4c3b2a1f";
const encounterId = "6f1c2d3e-4b5a-4c6d-8e7f-901a2b3c4d5e";
const providerId = "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d";
const now = new Date("2026-03-15T10:00:00.000Z");

const create = (data: Partial<CreateOrder["data"]> = {}): CreateOrder => ({
  type: "CreateOrder",
  data: {
    orderId,
    patientId,
    providerId,
    kind: "lab",
    details: { code: "2345-7", description: "Glucose, serum" },
    patient: { exists: true, active: true },
    ...data,
  },
  metadata: { now },
});

const change = (newStatus: OrderStatus, extra: Partial<ChangeOrderStatus["data"]> = {}): ChangeOrderStatus => ({
  type: "ChangeOrderStatus",
  data: { orderId, newStatus, ...extra },
  metadata: { now },
});

const created = (kind: OrderKind = "lab"): OrderEvent => ({
  type: "OrderCreated",
  data: {
    orderId,
    patientId,
    encounterId: null,
    providerId,
    kind,
    details: { code: "2345-7", description: "Glucose, serum" },
    priority: "routine",
    scheduledFor: null,
  },
});

const changed = (
  previousStatus: OrderStatus,
  newStatus: OrderStatus,
  extra: { reason?: string | null; resultData?: Record<string, string | number> | null } = {},
): OrderEvent => ({
  type: "OrderStatusChanged",
  data: {
    orderId,
    previousStatus,
    newStatus,
    reason: extra.reason ?? null,
    resultData: extra.resultData ?? null,
    changedAt: now.toISOString(),
  },
});

/** The shortest history that leaves an order in each status. */
const historyTo = (status: OrderStatus, kind: OrderKind = "procedure"): OrderEvent[] => {
  switch (status) {
    case "placed":
      return [created(kind)];
    case "on_hold":
      return [created(kind), changed("placed", "on_hold")];
    case "in_progress":
      return [created(kind), changed("placed", "in_progress")];
    case "completed":
      return [created(kind), changed("placed", "in_progress"), changed("in_progress", "completed")];
    case "cancelled":
      return [created(kind), changed("placed", "cancelled", { reason: "Duplicate" })];
  }
};

describe("CreateOrder", () => {
  it("places an order, routine unless told otherwise", () => {
    const state = given(orderDecider, []).when(create()).then([created()]);
    expect(state).toMatchObject({ status: "placed", kind: "lab", resultData: null, statusReason: null });
  });

  it("places a scheduled medication order inside an open encounter of the same patient", () => {
    given(orderDecider, [])
      .when(
        create({
          kind: "medication",
          details: { code: "197361", description: "Amlodipine 5 mg tablet", dose: "5 mg", route: "oral", frequency: "daily" },
          priority: "urgent",
          scheduledFor: new Date("2026-03-16T08:00:00.000Z"),
          encounterId,
          encounter: { exists: true, patientId, status: "in_progress" },
        }),
      )
      .then([
        {
          type: "OrderCreated",
          data: {
            orderId,
            patientId,
            encounterId,
            providerId,
            kind: "medication",
            details: { code: "197361", description: "Amlodipine 5 mg tablet", dose: "5 mg", route: "oral", frequency: "daily" },
            priority: "urgent",
            scheduledFor: "2026-03-16T08:00:00.000Z",
          },
        },
      ]);
  });

  it("is created once", () => {
    given(orderDecider, [created()]).when(create()).thenThrows("order.already_created");
  });

  it("refuses an unknown patient as not found, and an inactive one", () => {
    given(orderDecider, []).when(create({ patient: { exists: false } })).thenThrowsNotFound("Patient", patientId);
    given(orderDecider, []).when(create({ patient: { exists: true, active: false } })).thenThrows("patient.inactive");
  });

  it("refuses a scheduled time before the patient's date of birth; none, or one after it, is accepted", () => {
    const patient = { exists: true as const, active: true, dateOfBirth: "1980-01-02" };
    given(orderDecider, []).when(create({ patient, scheduledFor: new Date("1950-06-01T00:00:00.000Z") })).thenThrows("order.scheduled_before_birth");
    expect(() => orderDecider.decide(create({ patient, scheduledFor: new Date("1950-06-01T00:00:00.000Z") }), orderDecider.initialState())).toThrow(
      "Scheduled time 1950-06-01T00:00:00.000Z is before the patient's date of birth 1980-01-02",
    );
    expect(given(orderDecider, []).when(create({ patient })).then([created()])).toMatchObject({ status: "placed" });
    expect(given(orderDecider, []).when(create({ patient, scheduledFor: new Date("1980-01-02T00:00:00.000Z") })).then([{ ...created(), data: { ...created().data, scheduledFor: "1980-01-02T00:00:00.000Z" } } as OrderEvent])).toMatchObject({ status: "placed" });
  });

  it("refuses an encounter that does not exist", () => {
    given(orderDecider, [])
      .when(create({ encounterId, encounter: { exists: false } }))
      .thenThrowsNotFound("Encounter", encounterId);
  });

  it("refuses an encounter of another patient", () => {
    given(orderDecider, [])
      .when(create({ encounterId, encounter: { exists: true, patientId: otherPatientId, status: "in_progress" } }))
      .thenThrows("order.encounter_patient_mismatch");
  });

  it("refuses a completed encounter", () => {
    given(orderDecider, [])
      .when(create({ encounterId, encounter: { exists: true, patientId, status: "completed" } }))
      .thenThrows("order.encounter_completed");
  });

  it("fails loudly when the handler did not resolve the encounter", () => {
    expect(() => orderDecider.decide(create({ encounterId }), orderDecider.initialState())).toThrow(
      /needs data.encounter/,
    );
  });

  it("keeps dose, route and frequency to medication orders", () => {
    given(orderDecider, [])
      .when(create({ details: { description: "Glucose", dose: "5 mg" } }))
      .thenThrowsValidation("details.dose");
  });

  it("refuses malformed input", () => {
    given(orderDecider, []).when(create({ kind: "spa" as never })).thenThrowsValidation("kind");
    given(orderDecider, []).when(create({ details: { description: "" } })).thenThrowsValidation("details.description");
    given(orderDecider, []).when(create({ priority: "asap" as never })).thenThrowsValidation("priority");
  });
});

describe("ChangeOrderStatus", () => {
  // Written out rather than derived from orderTransitions, so the spec pins the table.
  const allowed: [OrderStatus, OrderStatus][] = [
    ["placed", "in_progress"],
    ["placed", "on_hold"],
    ["placed", "cancelled"],
    ["on_hold", "placed"],
    ["on_hold", "cancelled"],
    ["in_progress", "completed"],
    ["in_progress", "cancelled"],
  ];
  const isAllowed = (from: OrderStatus, to: OrderStatus) => allowed.some(([f, t]) => f === from && t === to);
  const final: OrderStatus[] = ["completed", "cancelled"];
  const pairs = orderStatuses.flatMap((from) => orderStatuses.map((to) => [from, to] as const));

  it.each(pairs)("%s -> %s", (from, to) => {
    const when = given(orderDecider, historyTo(from)).when(change(to, { reason: "Per clinician" }));
    if (from === to) when.then([]);
    else if (final.includes(from)) when.thenThrows("order.final_status");
    else if (isAllowed(from, to)) {
      const state = when.then([changed(from, to, { reason: "Per clinician" })]);
      expect(state).toMatchObject({ status: to, statusReason: "Per clinician", statusChangedAt: now.toISOString() });
    } else when.thenThrows("order.illegal_transition");
  });

  it("exports the same table for the UI", () => {
    for (const from of orderStatuses) {
      expect([...orderTransitions[from]].sort()).toEqual(orderStatuses.filter((to) => isAllowed(from, to)).sort());
    }
  });

  it("names both statuses when refusing a transition", () => {
    expect(() => orderDecider.decide(change("completed"), given(orderDecider, historyTo("placed")).state)).toThrow(
      /from placed to completed/,
    );
  });

  it("requires a reason to cancel", () => {
    given(orderDecider, historyTo("placed")).when(change("cancelled")).thenThrows("order.reason_required");
    given(orderDecider, historyTo("in_progress"))
      .when(change("cancelled", { reason: "   " }))
      .thenThrows("order.reason_required");
  });

  it("changes status without a reason where none is required", () => {
    given(orderDecider, historyTo("placed")).when(change("on_hold")).then([changed("placed", "on_hold")]);
  });

  it("requires the result when completing a lab or imaging order, and keeps it", () => {
    for (const kind of ["lab", "imaging"] as const) {
      given(orderDecider, historyTo("in_progress", kind)).when(change("completed")).thenThrows("order.result_required");
      given(orderDecider, historyTo("in_progress", kind))
        .when(change("completed", { resultData: {} }))
        .thenThrows("order.result_required");
      const resultData = { glucose: 5.4, unit: "mmol/L" };
      const state = given(orderDecider, historyTo("in_progress", kind))
        .when(change("completed", { resultData }))
        .then([changed("in_progress", "completed", { resultData })]);
      expect(state).toMatchObject({ status: "completed", resultData });
    }
  });

  it("refuses a result anywhere else", () => {
    const resultData = { note: "n/a" };
    given(orderDecider, historyTo("in_progress", "medication"))
      .when(change("completed", { resultData }))
      .thenThrows("order.result_not_allowed");
    given(orderDecider, historyTo("placed", "lab"))
      .when(change("in_progress", { resultData }))
      .thenThrows("order.result_not_allowed");
  });

  it("refuses an order that was never created as not found", () => {
    given(orderDecider, []).when(change("in_progress")).thenThrowsNotFound("Order", orderId);
  });

  it("refuses an unknown status", () => {
    given(orderDecider, historyTo("placed")).when(change("lost" as never)).thenThrowsValidation("newStatus");
  });
});

describe("order events", () => {
  it("round-trip through the registry", () => {
    const events: OrderEvent[] = [
      created(),
      changed("placed", "cancelled", { reason: "Duplicate" }),
      changed("in_progress", "completed", { resultData: { glucose: 5.4 } }),
    ];
    for (const event of events) {
      const { eventVersion, data } = eventRegistry.encode(event);
      expect(eventRegistry.decode(event.type, eventVersion, JSON.parse(JSON.stringify(data)))).toEqual(event.data);
    }
  });

  it("registers every event type once", () => {
    expect(eventRegistry.types().sort()).toEqual(
      [
        "CriticalResultFlagged",
        "AllergyRecorded",
        "NoKnownAllergiesRecorded",
        "AllergyRefuted",
        "AllergyResolved",
        "AlertRecorded",
        "AlertResolved",
        "MedicationAllergyOverridden",
        "EncounterCompleted",
        "EncounterStarted",
        "OrderCreated",
        "OrderStatusChanged",
        "PatientDemographicsUpdated",
        "PatientErased",
        "PatientRegistered",
        "UserCreated",
        "UserEnrolled",
        "UserEnrolmentIssued",
        "ProjectionRebuildCancelled",
        "ProjectionRebuildFailed",
        "ProjectionRebuildFinished",
        "ProjectionRebuildStarted",
        "AuditRestoreAccepted",
        "OutboxDeadLetterRetried",
        "OutboxDeadLetterSetAside",
        "SnapshotsDiscarded",
        "UserRolesChanged",
      ].sort(),
    );
  });
});

describe("CreateOrder against the patient's allergies", () => {
  const allergyId = "7a1d2c3b-4e5f-4a6b-9c7d-8e9f0a1b2c3d";
  const penicillinAllergy = {
    allergyId,
    substance: { code: "penicillin" as const, text: "Penicillin" },
    reaction: "Hives",
    severity: "severe" as const,
    source: "patient" as const,
    note: null,
    status: "active" as const,
    statusReason: null,
  };
  const allergic = { exists: true as const, active: true, allergies: [penicillinAllergy] };
  const amoxicillin = { description: "Amoxicillin 500 mg capsules", dose: "500 mg", route: "oral", frequency: "three times daily" };

  it("refuses a medication of the allergy's class without an override reason", () => {
    given(orderDecider, []).when(create({ kind: "medication", details: amoxicillin, patient: allergic })).thenThrows("order.allergy_conflict");
  });

  it("refuses the named substance itself, and a free-text allergy to a drug of the class", () => {
    given(orderDecider, [])
      .when(create({ kind: "medication", details: { description: "Penicillin V 250 mg" }, patient: allergic }))
      .thenThrows("order.allergy_conflict");
    const freeText = { ...allergic, allergies: [{ ...penicillinAllergy, substance: { code: null, text: "Augmentin" } }] };
    given(orderDecider, []).when(create({ kind: "medication", details: { description: "Ampicillin IV" }, patient: freeText })).thenThrows("order.allergy_conflict");
  });

  it("accepts it with an override reason, and records the override as its own event", () => {
    const reason = "Anaphylaxis risk discussed; no alternative, given under observation";
    given(orderDecider, [])
      .when(create({ kind: "medication", details: amoxicillin, patient: allergic, allergyOverrideReason: reason }))
      .then([
        {
          type: "OrderCreated",
          data: { orderId, patientId, encounterId: null, providerId, kind: "medication", details: amoxicillin, priority: "routine", scheduledFor: null },
        },
        {
          type: "MedicationAllergyOverridden",
          data: { orderId, patientId, conflicts: [{ allergyId, substance: "Penicillin", matchedBy: "class", drugClass: "penicillins" }], reason },
        },
      ]);
  });

  it("an override reason must say something", () => {
    given(orderDecider, []).when(create({ kind: "medication", details: amoxicillin, patient: allergic, allergyOverrideReason: "ok" })).thenThrowsValidation("allergyOverrideReason");
  });

  it("passes a drug of another class, refuted allergies, and orders that are not medications", () => {
    given(orderDecider, []).when(create({ kind: "medication", details: { description: "Azithromycin 500 mg" }, patient: allergic })).then([expect.objectContaining({ type: "OrderCreated" })]);
    const refuted = { ...allergic, allergies: [{ ...penicillinAllergy, status: "refuted" as const }] };
    given(orderDecider, []).when(create({ kind: "medication", details: amoxicillin, patient: refuted })).then([expect.objectContaining({ type: "OrderCreated" })]);
    given(orderDecider, []).when(create({ kind: "lab", details: { description: "Penicillin allergy test (IgE)" }, patient: allergic })).then([expect.objectContaining({ type: "OrderCreated" })]);
  });
});
