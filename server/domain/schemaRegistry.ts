// The event schema registry: every stored event type with its current schema version, its JSON
// Schema (generated from the zod schema), the upcasters that lift older stored versions, and a
// synthetic example. Also what `npm run schema:check` compares against the committed snapshot
// (server/domain/schemas.snapshot.json), so a stored event's shape cannot change by accident.
import { z } from "zod";
import type { EventDefinition } from "../eventStore/serializer";
import { eventDefinitions } from "./registry";

/** What each upcaster does, in words an admin reads (a function's source means little in a build). */
export const upcasterNotes: Record<string, Record<number, string>> = {
  PatientRegistered: {
    1: "v1 stored one `name`; v2 splits it into givenName and familyName (the last word is the family name).",
  },
  EncounterStarted: {
    1: "v1 had no location; v2 adds `location` (ward, room, bed or clinic), null for older encounters.",
  },
};

const patientId = "7d0c1c52-4d7e-4c7e-9a53-3c1f4f6f2a10";
const encounterId = "0b5f3f0e-8d5a-4f5e-b1d4-3e9a3c4f5a21";
const orderId = "5a7e2d3c-1b4f-4e6a-9c8d-7f6e5d4c3b32";
const rebuildId = "9e2b6c1d-3f4a-4b5c-8d6e-7f8091a2b3c4";

/** One synthetic payload per event type (no real person), checked against its schema by test. */
export const eventExamples: Record<string, Record<string, unknown>> = {
  PatientRegistered: {
    patientId,
    mrn: "MRN004211",
    givenName: "Alex",
    familyName: "Example",
    dateOfBirth: "1980-01-31",
    sex: "unknown",
    email: null,
    phone: "+1 555 0100",
    address: { line1: "1 Example Street", city: "Springfield", postalCode: "00000", country: "US" },
  },
  PatientDemographicsUpdated: {
    patientId,
    changes: { phone: "+1 555 0199" },
    previous: { phone: "+1 555 0100" },
    reason: "patient gave a new number at check-in",
  },
  EncounterStarted: {
    encounterId,
    patientId,
    providerId: "user-clinician-1",
    encounterType: "outpatient",
    startedAt: "2026-01-15T09:30:00.000Z",
    reason: "annual check-up",
    location: "Ward 4B, bed 12",
  },
  EncounterCompleted: {
    encounterId,
    endedAt: "2026-01-15T10:05:00.000Z",
    outcome: "no findings",
    dischargeDisposition: "home",
    durationMinutes: 35,
  },
  OrderCreated: {
    orderId,
    patientId,
    encounterId,
    providerId: "user-clinician-1",
    kind: "lab",
    details: { code: "2345-7", description: "Glucose, serum" },
    priority: "routine",
    scheduledFor: null,
  },
  OrderStatusChanged: {
    orderId,
    previousStatus: "in_progress",
    newStatus: "completed",
    reason: null,
    resultData: { value: 5.4, unit: "mmol/L" },
    changedAt: "2026-01-15T12:00:00.000Z",
  },
  UserCreated: { userId: "user-clinician-1", email: "clinician@example.test", name: "Demo Clinician", roles: ["clinician"] },
  UserRolesChanged: { userId: "user-clinician-1", previousRoles: ["clinician"], roles: ["clinician", "compliance"], reason: "joined the audit committee" },
  UserEnrolmentIssued: { userId: "user-clinician-1", expiresAt: "2026-01-18T09:00:00.000Z", cause: "reset", reason: "forgot the password (call 4411)" },
  UserEnrolled: { userId: "user-clinician-1" },
  CriticalResultFlagged: {
    patientId,
    orderId,
    orderKind: "lab",
    orderDescription: "Potassium, serum",
    findings: [{ name: "potassium", value: 6.8, unit: "mmol/L", flag: "HH" }],
    resultedAt: "2026-01-15T12:00:00.000Z",
  },
  PatientErased: { patientId, reason: "the patient asked to be forgotten (request 2026-0142)", erasedAt: "2026-02-01T08:00:00.000Z" },
  AllergyRecorded: {
    patientId,
    allergyId: "7a1d2c3b-4e5f-4a6b-9c7d-8e9f0a1b2c3d",
    substance: { code: "penicillin", text: "Penicillin" },
    reaction: "Hives",
    severity: "moderate",
    source: "patient",
    note: null,
  },
  NoKnownAllergiesRecorded: { patientId },
  AllergyRefuted: { patientId, allergyId: "7a1d2c3b-4e5f-4a6b-9c7d-8e9f0a1b2c3d", reason: "Tolerated amoxicillin since" },
  AllergyResolved: { patientId, allergyId: "7a1d2c3b-4e5f-4a6b-9c7d-8e9f0a1b2c3d", reason: "Outgrown" },
  AlertRecorded: { patientId, alertId: "9c3f4e5d-6a7b-4c8d-9e0f-1a2b3c4d5e6f", kind: "fall_risk", note: "Unsteady on standing" },
  AlertResolved: { patientId, alertId: "9c3f4e5d-6a7b-4c8d-9e0f-1a2b3c4d5e6f", reason: "Walking independently" },
  MedicationAllergyOverridden: {
    orderId,
    patientId,
    conflicts: [{ allergyId: "7a1d2c3b-4e5f-4a6b-9c7d-8e9f0a1b2c3d", substance: "Penicillin", matchedBy: "class", drugClass: "penicillins" }],
    reason: "No alternative; given under observation",
  },
  ProjectionRebuildStarted: { rebuildId, projection: "orders", reason: "fix to the worklist order", codeVersion: 2, eventsTotal: 120000 },
  ProjectionRebuildFinished: { rebuildId, projection: "orders", eventsDone: 120000, durationMs: 2400, eventsPerSecond: 50000, swapPauseMs: 12 },
  ProjectionRebuildCancelled: { rebuildId, projection: "orders", eventsDone: 40000, durationMs: 900 },
  ProjectionRebuildFailed: { rebuildId, projection: "orders", eventsDone: 512, durationMs: 40, error: "PatientRegistered could not be decoded" },
  OutboxDeadLetterRetried: { outboxId: 4812, eventId: "3f2a1b0c-9d8e-4f7a-8b6c-5d4e3f2a1b0c", eventType: "OrderStatusChanged", stage: "bus", attempts: 5, lastError: "PRECONDITION_FAILED: message nacked" },
  OutboxDeadLetterSetAside: {
    outboxId: 4812,
    eventId: "3f2a1b0c-9d8e-4f7a-8b6c-5d4e3f2a1b0c",
    eventType: "OrderStatusChanged",
    stage: "handlers",
    attempts: 5,
    lastError: "TypeError: cannot read the order",
    reason: "handler bug OPS-118; the flag was raised by hand",
  },
  SnapshotsDiscarded: {
    aggregateType: "patient",
    which: "stale",
    currentStateVersion: 2,
    discarded: 1840,
    bytes: 2_310_144,
    reason: "state version 1 snapshots left by the upgrade to v2 (OPS-131)",
  },
  AuditRestoreAccepted: {
    reason: "restored the backup of 2026-11-30 02:00 after a disk failure (ticket OPS-112)",
    witnessed: { seq: 42, to: "81234:5120", chainHash: "ab".repeat(32), signedAt: "2026-11-30T06:51:13.167Z" },
    baseline: { seq: 41, to: "80012:5004", chainHash: "cd".repeat(32) },
  },
};

/** The JSON Schema of what is stored: the schema's output (defaults applied), draft 2020-12. */
export function jsonSchemaOf(definition: EventDefinition): Record<string, unknown> {
  // Refinements (cross-field rules) are not expressible in JSON Schema and are left out.
  return z.toJSONSchema(definition.schema, { io: "output", unrepresentable: "any" }) as Record<string, unknown>;
}

export type SchemaEntry = {
  type: string;
  version: number;
  jsonSchema: Record<string, unknown>;
  upcasters: { from: number; to: number; note: string | null }[];
  example: Record<string, unknown> | null;
};

export function schemaEntries(definitions: readonly EventDefinition[] = eventDefinitions): SchemaEntry[] {
  return definitions
    .map((d) => ({
      type: d.type,
      version: d.version,
      jsonSchema: jsonSchemaOf(d),
      upcasters: Object.keys(d.upcasters)
        .map(Number)
        .sort((a, b) => a - b)
        .map((from) => ({ from, to: from + 1, note: upcasterNotes[d.type]?.[from] ?? null })),
      example: eventExamples[d.type] ?? null,
    }))
    .sort((a, b) => a.type.localeCompare(b.type));
}

/** The committed snapshot's shape: per event type, the version and the JSON Schema it had. */
export type SchemaSnapshot = Record<string, { version: number; jsonSchema: Record<string, unknown> }>;

export function snapshotOf(definitions: readonly EventDefinition[] = eventDefinitions): SchemaSnapshot {
  const out: SchemaSnapshot = {};
  for (const e of schemaEntries(definitions)) out[e.type] = { version: e.version, jsonSchema: e.jsonSchema };
  return out;
}

export type SchemaProblem = {
  type: string;
  /** "illegal": cannot land as it is; "record": legitimate, but the snapshot must be updated. */
  kind: "illegal" | "record";
  message: string;
};

/** Canonical JSON (sorted keys), so key order never counts as a change. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    return `{${Object.keys(value)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(value);
}

/**
 * Compares the current definitions with the committed snapshot. A schema that changed at the
 * same version, a version that went down, a removed type (its stored events would become
 * unreadable) or a bump without upcasters from every older version is illegal; a new type or a
 * proper bump only needs the snapshot updated (--update).
 */
export function checkSchemas(definitions: readonly EventDefinition[], snapshot: SchemaSnapshot): SchemaProblem[] {
  const problems: SchemaProblem[] = [];
  const current = snapshotOf(definitions);
  const byType = new Map(definitions.map((d) => [d.type, d]));
  for (const [type, before] of Object.entries(snapshot)) {
    const now = current[type];
    if (!now) {
      problems.push({ type, kind: "illegal", message: `${type} was removed, but stored events of it must stay readable` });
      continue;
    }
    const same = canonical(now.jsonSchema) === canonical(before.jsonSchema);
    if (now.version === before.version) {
      if (!same) {
        problems.push({
          type,
          kind: "illegal",
          message: `${type}: the schema changed but its version is still v${now.version}; bump the version and add an upcaster from v${before.version}`,
        });
      }
      continue;
    }
    if (now.version < before.version) {
      problems.push({ type, kind: "illegal", message: `${type}: the version went down from v${before.version} to v${now.version}` });
      continue;
    }
    const upcasters = byType.get(type)?.upcasters ?? {};
    const missing = [];
    for (let v = before.version; v < now.version; v++) if (!upcasters[v]) missing.push(v);
    if (missing.length > 0) {
      problems.push({ type, kind: "illegal", message: `${type}: v${before.version} -> v${now.version} lacks an upcaster from v${missing.join(", v")}` });
    } else {
      problems.push({ type, kind: "record", message: `${type}: v${before.version} -> v${now.version} with upcasters; record it with --update` });
    }
  }
  for (const type of Object.keys(current)) {
    if (!(type in snapshot)) problems.push({ type, kind: "record", message: `${type} is new; record it with --update` });
  }
  return problems;
}
