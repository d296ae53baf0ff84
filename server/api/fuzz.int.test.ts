// Malformed input against every procedure of the router: none may answer INTERNAL_SERVER_ERROR,
// and a refused mutation must write nothing. The procedures are discovered from the router, and
// each field of each input schema gets every bad value, so a new procedure or field is fuzzed
// without touching this file. Then a subset over HTTP through the real route handler: broken
// transport bodies, oversized batches and bodies, and the same bad values serialized by superjson.
import { randomUUID } from "node:crypto";
import { TRPCError } from "@trpc/server";
import fc from "fast-check";
import superjson from "superjson";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "../db/client";
import { encodeCursor } from "../input";
import { openFreshPostgresDatabase, openTestDatabase, pgUrl } from "../testing/db";
import { contextFor, newPatient } from "../testing/caller";
import type { Role, SessionUser } from "./context";
import { handleTrpcRequest, MAX_BATCH_SIZE } from "./http";
import { MappedError } from "./errors";
import { appRouter, createCaller } from "./root";

type ProcedureDef = { _def: { type: "query" | "mutation" | "subscription"; inputs: unknown[] } };
const procedures = appRouter._def.procedures as unknown as Record<string, ProcedureDef>;
const paths = Object.keys(procedures).sort();
const allRoles: Role[] = ["clinician", "compliance", "admin"];

const huge = "x".repeat(1_000_000);
const nested = (depth: number): unknown => {
  let v: unknown = "leaf";
  for (let i = 0; i < depth; i++) v = [v];
  return v;
};
const nestedJson = (depth: number): unknown => {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = { a: v };
  return v;
};

/** Every bad value, with a label for the report. */
const badValues: [string, unknown][] = [
  ["NUL", "\u0000"],
  ["NUL inside", "ab\u0000cd"],
  ["lone high surrogate", "\ud800"],
  ["lone low surrogate", "a\udfffb"],
  ["reversed surrogates", "\udc00\ud800"],
  ["1 MB string", huge],
  ["empty string", ""],
  ["spaces", "   "],
  ["LIKE wildcards", "%_\\"],
  ["SQL", "'; DROP TABLE events; --"],
  ["controls", "\u0001\u001f\u007f"],
  ["int4 overflow", 2_147_483_648],
  ["int4 underflow", -2_147_483_649],
  ["smallint overflow", 32_768],
  ["int8 overflow", 9_223_372_036_854_775_808],
  ["2^53", 2 ** 53],
  ["negative", -1],
  ["zero", 0],
  ["fraction", 1.5],
  ["NaN", Number.NaN],
  ["Infinity", Number.POSITIVE_INFINITY],
  ["-Infinity", Number.NEGATIVE_INFINITY],
  ["bigint", 2n ** 70n],
  ["JS min date", new Date(-8.64e15)],
  ["JS max date", new Date(8.64e15)],
  ["year 0", new Date("0000-01-01T00:00:00Z")],
  ["negative year", new Date("-000001-01-01T00:00:00Z")],
  ["invalid date", new Date(Number.NaN)],
  ["year 10000", new Date("+010000-01-01T00:00:00Z")],
  ["date text year 0", "0000-01-01"],
  ["date text 1899", "1899-12-31"],
  ["date text negative year", "-0001-01-01"],
  ["date text JS min", "-271821-04-20"],
  ["date-time text year 0", "0000-01-01T00:00:00Z"],
  ["forged worklist cursor", encodeCursor({ r: 99_999, t: "not a time", id: randomUUID() })],
  ["overflowing worklist cursor", encodeCursor({ r: 2 ** 40, t: "0000-01-01T00:00:00Z", id: randomUUID() })],
  ["worklist cursor, JS min date", encodeCursor({ r: 1, t: "-271821-04-20T00:00:00.000Z", id: randomUUID() })],
  ["patient cursor with NUL", encodeCursor({ k: "\u0000", id: randomUUID() })],
  ["patient cursor, huge key", encodeCursor({ k: "k".repeat(100_000), id: randomUUID() })],
  // Every keyset cursor's own shape, with values no page could have issued.
  ["access summary cursor past int4", encodeCursor({ charts: 3_000_000_000, user: "x" })],
  ["access summary cursor, user with NUL", encodeCursor({ charts: 1, user: "a\u0000b" })],
  ["readers cursor, year 0", encodeCursor({ last: "0000-01-01T00:00:00Z", user: "x" })],
  ["readers cursor, user with NUL", encodeCursor({ last: "2026-01-01T00:00:00Z", user: "\u0000" })],
  ["emergency cursor, year 0", encodeCursor({ grantedAt: "0000-01-01T00:00:00Z", id: randomUUID() })],
  ["emergency cursor, JS max date", encodeCursor({ grantedAt: "+275760-09-13T00:00:00.000Z", id: randomUUID() })],
  ["cursor, not base64", "!!!***"],
  ["cursor, 20 digits", "99999999999999999999"],
  ["cursor, int8 overflow", "9223372036854775808"],
  ["cursor, base64 of bytes", Buffer.from([0xff, 0xfe, 0x00]).toString("base64url")],
  ["null", null],
  ["undefined", undefined],
  ["true", true],
  ["empty array", []],
  ["array of text", ["a", "\u0000"]],
  ["empty object", {}],
  ["extra keys", { constructor: "x", toString: 1, valueOf: null }],
  ["__proto__ key", JSON.parse('{"__proto__": {"polluted": true}}')],
  ["nesting 10,000 deep", nested(10_000)],
  ["array of 100,000", Array.from({ length: 100_000 }, (_, i) => i)],
  ["Map", new Map([["a", 1]])],
  ["Set", new Set([1])],
  ["RegExp", /x/],
  ["1 MB JSON value", { value: huge }],
  ["JSON 50 deep", nestedJson(50)],
  ["JSON with NaN", { v: Number.NaN }],
  ["JSON key with NUL", { "a\u0000": 1 }],
];

// ---- input schemas: the field paths to put bad values at ------------------------------------

type ZodLike = { _zod?: { def: Record<string, unknown> } };

/** Field paths of a zod input schema (objects, through optional/nullable/default/pipe), two levels deep. */
function fieldPaths(schema: unknown, prefix: string[] = [], depth = 0): string[][] {
  const def = (schema as ZodLike)?._zod?.def;
  if (!def || depth > 2) return [];
  switch (def.type) {
    case "optional":
    case "nullable":
    case "default":
    case "prefault":
    case "readonly":
      return fieldPaths(def.innerType, prefix, depth);
    case "pipe":
      return fieldPaths(def.in, prefix, depth);
    case "object": {
      const shape = def.shape as Record<string, unknown>;
      return Object.entries(shape).flatMap(([key, child]) => [[...prefix, key], ...fieldPaths(child, [...prefix, key], depth + 1)]);
    }
    default:
      return [];
  }
}

function withValue(base: unknown, path: string[], value: unknown): unknown {
  if (path.length === 0) return value;
  const [head, ...rest] = path;
  const obj = typeof base === "object" && base !== null && !Array.isArray(base) ? (base as Record<string, unknown>) : {};
  return { ...obj, [head!]: withValue(obj[head!], rest, value) };
}

type Callable = (input?: unknown) => Promise<unknown>;
function procedureOf(caller: unknown, path: string): Callable {
  return path.split(".").reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], caller) as Callable;
}

/** Rows in the tables a mutation could write. */
async function rowCounts(db: Database): Promise<string> {
  const rows = await db.prisma.$queryRawUnsafe<Record<string, unknown>[]>(
    `SELECT (SELECT count(*) FROM events)::int AS events,
            (SELECT count(*) FROM access_log WHERE screen IS DISTINCT FROM 'refusal')::int AS access_log,
            (SELECT count(*) FROM access_log WHERE screen = 'refusal')::int AS refusals,
            (SELECT count(*) FROM auth_users)::int AS users, (SELECT count(*) FROM streams)::int AS streams,
            (SELECT count(*) FROM rm_patients)::int AS rm_patients, (SELECT count(*) FROM rm_encounters)::int AS rm_encounters,
            (SELECT count(*) FROM rm_orders)::int AS rm_orders`,
  );
  return JSON.stringify(rows[0]);
}

// ---- the fuzz --------------------------------------------------------------------------------

type Fixture = { user: SessionUser; inputs: Record<string, unknown> };

/** A user with every role, a patient with an open encounter and an order, and a valid input per procedure. */
async function fixture(db: Database): Promise<Fixture> {
  const admin = createCaller(contextFor(db, { id: `fuzz-admin-${randomUUID()}`, email: "fuzz-admin@test.invalid", name: "Fuzz Admin", roles: allRoles }));
  // Stored with one role (an account may not be created as admin and a PHI role at once); the
  // session below carries every role, so every procedure is reachable.
  const account = { email: `fuzz-${randomUUID()}@test.invalid`, name: "Fuzz All Roles", roles: ["clinician" as const] };
  const created = await admin.users.create(account);
  const other = await admin.users.create({ ...account, email: `fuzz-other-${randomUUID()}@test.invalid`, name: "Fuzz Other" });
  const user: SessionUser = { id: created.id, email: account.email, name: account.name, roles: allRoles };
  const api = createCaller(contextFor(db, user));
  const { patientId } = await api.patient.register(newPatient());
  const { encounterId } = await api.encounter.start({ patientId, encounterType: "outpatient" });
  const { orderId } = await api.order.create({ patientId, encounterId, kind: "lab", details: { description: "CBC" } });
  await api.order.changeStatus({ orderId, newStatus: "in_progress", expectedVersion: 1 });
  const allergy = { substance: { code: "penicillin" as const, text: "Penicillin" }, reaction: "Hives", severity: "severe" as const, source: "patient" as const, note: null };
  const { allergyId } = await api.patient.recordAllergy({ patientId, ...allergy });
  const { alertId } = await api.patient.recordAlert({ patientId, kind: "fall_risk", note: null });
  // A valid input for the procedures that take one, so a bad value in one field reaches the code behind it.
  const inputs: Record<string, unknown> = {
    "patient.register": newPatient(),
    "patient.updateDemographics": { patientId, expectedVersion: 1, changes: { givenName: "Grace" }, reason: "typo" },
    "patient.byId": { patientId },
    "patient.list": { search: "a", limit: 5 },
    "patient.history": { patientId, limit: 5 },
    "patient.changesSince": { patientId, sinceVersion: 0 },
    "patient.recordAllergy": { patientId, ...allergy, substance: { code: null, text: "Latex" }, note: "gloves" },
    "patient.recordNoKnownAllergies": { patientId },
    "patient.closeAllergy": { patientId, allergyId, outcome: "refuted", reason: "tolerated amoxicillin" },
    "patient.recordAlert": { patientId, kind: "contact_isolation", note: "MRSA" },
    "patient.resolveAlert": { patientId, alertId, reason: "walking independently" },
    "encounter.start": { patientId, encounterType: "outpatient", reason: "check-up", startedAt: new Date() },
    "encounter.complete": { encounterId, expectedVersion: 1, outcome: "well", dischargeDisposition: "home" },
    "encounter.byId": { encounterId },
    "encounter.listForPatient": { patientId },
    "order.create": { patientId, encounterId, kind: "medication", details: { description: "Amoxicillin", dose: "500 mg" }, scheduledFor: new Date(), allergyOverrideReason: "no alternative, observed" },
    "order.changeStatus": { orderId, newStatus: "completed", expectedVersion: 2, resultData: { hb: { value: 13.5, unit: "g/dL" } } },
    "order.byId": { orderId },
    "order.worklist": { provider: "me", limit: 5 },
    "audit.accessLog": { patientId, from: new Date(Date.now() - 86_400_000), limit: 5 },
    "audit.events": { eventTypes: ["PatientRegistered"], streamId: `patient-${patientId}`, occurredFrom: new Date(Date.now() - 86_400_000), limit: 5 },
    "audit.event": { eventId: randomUUID() },
    "audit.patients": { search: "a", limit: 5 },
    "audit.patientTimeline": { patientId, limit: 5 },
    "audit.patientAsOf": { patientId, asOf: new Date() },
    "audit.recordAt": { patientId, moment: { recordedAt: new Date(), happenedBy: new Date(Date.now() - 86_400_000) } },
    "audit.recordDiff": { patientId, a: { happenedBy: new Date(Date.now() - 86_400_000) }, b: {} },
    "audit.recordTicks": { patientId, axis: "happened" },
    "audit.verification": { id: randomUUID() },
    "audit.exports": { before: { at: new Date(), id: randomUUID() }, limit: 5 },
    "users.list": { search: "fuzz" },
    "users.create": { email: `fuzz-${randomUUID()}@test.invalid`, name: "Fuzz", roles: ["clinician"] },
    "users.setRoles": { userId: other.id, roles: ["clinician", "compliance"], reason: "fuzz baseline" },
    "users.issueEnrolmentLink": { userId: other.id, reason: "fuzz baseline" },
    "enrolment.lookup": { token: "f".repeat(43) },
    "enrolment.complete": { token: "f".repeat(43), password: "correct horse battery staple" },
    "admin.retryDeadLetter": { id: 1 },
    "admin.setAsideDeadLetter": { id: 1, stage: "handlers", reason: "handler bug, raised by hand" },
    "admin.checkSnapshots": { sample: 5 },
    // An aggregate type no code folds: the sample must not discard the snapshots other samples use.
    "admin.discardSnapshots": { aggregateType: "fuzz-type", which: "stale", reason: "fuzz sample, nothing to discard" },
    "admin.writeHistoricSnapshots": { after: "patient-ffffffff-ffff-4fff-8fff-ffffffffffff" },
    // An unknown patient: the sample must not erase the patient the other samples use.
    "admin.erasePatient": { patientId: randomUUID(), confirmMrn: "FUZZ000001", reason: "data subject request (fuzz)" },
    "admin.findPatientForErasure": { mrn: "FUZZ000001" },
    "audit.emergencyAccesses": { status: "needs_review", patientId, limit: 5 },
    "audit.readers": { patientId, from: new Date(Date.now() - 86_400_000), limit: 5 },
    "audit.reviewEmergencyAccess": { accessId: randomUUID(), note: "reviewed during the fuzz" },
    "audit.userActivity": { userId: created.id, from: new Date(Date.now() - 86_400_000), limit: 5 },
    "audit.users": { search: "fuzz", limit: 5 },
    "audit.filterLabels": { patientId, userId: created.id },
    "observability.metricsHistory": { range: "hour" },
    "patient.breakGlass": { patientId, reason: "covering the ward tonight, patient deteriorating" },
    // An unknown projection: a malformed variant must be refused, a well-formed one finds nothing to rebuild.
    "projections.rebuild": { name: "no_such_projection", reason: "fuzz baseline" },
    "projections.rebuildProgress": { rebuildId: randomUUID() },
    "projections.cancelRebuild": { rebuildId: randomUUID() },
    "reports.activity": { days: 7, timeZone: "UTC", userId: created.id },
    "reports.census": { timeZone: "UTC" },
    "reports.turnaround": { days: 7, timeZone: "UTC" },
  };
  return { user, inputs };
}

type Finding = string;

async function fuzzProcedure(db: Database, fx: Fixture, path: string, findings: Finding[], perField: boolean): Promise<number> {
  const procedure = procedures[path]!;
  const isMutation = procedure._def.type === "mutation";
  const base = fx.inputs[path] ?? {};
  const fields = perField ? procedure._def.inputs.flatMap((schema) => fieldPaths(schema)) : [];
  const cases: [string, unknown][] = [
    ...badValues.map(([label, value]): [string, unknown] => [`input = ${label}`, value]),
    ...fields.flatMap((field) => badValues.map(([label, value]): [string, unknown] => [`${field.join(".")} = ${label}`, withValue(base, field, value)])),
  ];
  const caller = createCaller(contextFor(db, fx.user));
  let before = isMutation ? await rowCounts(db) : "";
  for (const [label, input] of cases) {
    // Refused by the procedure's input schema: tRPC refuses it before the resolver runs, so it
    // must be a BAD_REQUEST and cannot have written (most cases; counting rows after each of them
    // made this test the run's slowest by far). Every other refusal is checked against the counts.
    const refusedAtInput = isMutation && (await failsInputSchema(procedure._def.inputs, input));
    let code = "OK";
    let showedPatients = false;
    try {
      await procedureOf(caller, path)(input);
    } catch (error) {
      code = error instanceof TRPCError ? error.code : `thrown ${(error as Error)?.name}`;
      // A registration refused as a possible duplicate shows the patients it may be: their
      // listing is logged (access_log), as a search's is. Nothing else may be written.
      showedPatients = error instanceof MappedError && error.domain.kind === "possible_duplicate";
    }
    if (code === "INTERNAL_SERVER_ERROR" || code.startsWith("thrown")) findings.push(`${path} ${label}: ${code}`);
    if (refusedAtInput) {
      if (code !== "BAD_REQUEST") findings.push(`${path} ${label}: its input schema refuses it, but the call answered ${code}`);
    } else if (isMutation) {
      const after = await rowCounts(db);
      // A refusal by the chart's rules (PRECONDITION_FAILED) may quote the chart, so it is
      // recorded as a read ("read the chart in a refused change"): that row, and nothing else.
      const written = (counts: string) =>
        JSON.stringify({ ...JSON.parse(counts), ...(showedPatients ? { access_log: 0 } : {}), ...(code === "PRECONDITION_FAILED" ? { refusals: 0 } : {}) });
      if (code !== "OK" && written(after) !== written(before)) findings.push(`${path} ${label}: refused (${code}) but wrote rows ${before} -> ${after}`);
      before = after;
    }
  }
  return cases.length;
}

/** Whether any of a procedure's input schemas (Standard Schema, as tRPC reads them) refuses the input. */
async function failsInputSchema(inputs: readonly unknown[], input: unknown): Promise<boolean> {
  for (const schema of inputs) {
    const standard = (schema as { "~standard"?: { validate: (v: unknown) => unknown } })["~standard"];
    if (!standard) throw new Error("an input schema without ~standard: the fuzz cannot tell where it refuses");
    const result = (await standard.validate(input)) as { issues?: unknown[] };
    if (result.issues) return true;
  }
  return false;
}

/** Random values from fast-check at random fields: what the list above did not think of. */
async function fuzzRandom(db: Database, fx: Fixture, path: string, findings: Finding[]) {
  const procedure = procedures[path]!;
  const fields = [[], ...procedure._def.inputs.flatMap((schema) => fieldPaths(schema))];
  const caller = createCaller(contextFor(db, fx.user));
  await fc.assert(
    fc.asyncProperty(fc.constantFrom(...fields), fc.anything({ withBigInt: true, withDate: true, withMap: true, withSet: true, withNullPrototype: true, withSparseArray: true, maxDepth: 4 }), async (field, value) => {
      try {
        await procedureOf(caller, path)(withValue(fx.inputs[path] ?? {}, field, value));
      } catch (error) {
        const code = error instanceof TRPCError ? error.code : `thrown ${(error as Error)?.name}`;
        if (code === "INTERNAL_SERVER_ERROR" || code.startsWith("thrown")) findings.push(`${path} ${field.join(".") || "input"} = ${String(superjson.stringify(value)).slice(0, 80)}: ${code}`);
      }
    }),
    { numRuns: 15, seed: 8 },
  );
}

// ---- over HTTP -------------------------------------------------------------------------------

type HttpCase = { label: string; url: string; init?: RequestInit };

function httpCases(fx: Fixture, perField: boolean): HttpCase[] {
  const post = (label: string, path: string, body: BodyInit, headers: Record<string, string> = { "content-type": "application/json" }): HttpCase => ({
    label,
    url: `http://localhost/api/trpc/${path}`,
    init: { method: "POST", headers, body },
  });
  const orderInput = fx.inputs["order.changeStatus"] as Record<string, unknown>;
  const cases: HttpCase[] = [
    post("body null", "patient.register", "null"),
    post("body empty", "patient.register", ""),
    post("body not JSON", "patient.register", "{"),
    post("body a number", "patient.register", "12"),
    post("body an array", "patient.register", "[]"),
    post("superjson meta names an unknown type", "patient.register", JSON.stringify({ json: { dateOfBirth: "x" }, meta: { values: { dateOfBirth: ["nope"] } } })),
    post("superjson meta: Date of an object", "encounter.start", JSON.stringify({ json: { startedAt: { a: 1 } }, meta: { values: { startedAt: ["Date"] } } })),
    post("superjson meta: bigint of text", "admin.retryDeadLetter", JSON.stringify({ json: { id: "abc" }, meta: { values: { id: ["bigint"] } } })),
    post("superjson meta: path through __proto__", "patient.register", JSON.stringify({ json: {}, meta: { values: { "__proto__.polluted": ["undefined"] } } })),
    post("superjson meta not an object", "patient.register", JSON.stringify({ json: {}, meta: "x" })),
    post("superjson referential meta to nowhere", "patient.register", JSON.stringify({ json: { a: 1 }, meta: { referentialEqualities: { a: ["b.c.d"] } } })),
    post("nesting 100,000 deep", "patient.register", `{"json":${"[".repeat(100_000)}${"]".repeat(100_000)}}`),
    post("3 MB body", "patient.register", JSON.stringify({ json: { givenName: "x".repeat(3 * 1024 * 1024) } })),
    post("3 MB body, no length", "patient.register", new Blob([JSON.stringify({ json: { givenName: "x".repeat(3 * 1024 * 1024) } })]).stream(), { "content-type": "application/json" }),
    post("lying content-length", "patient.register", JSON.stringify({ json: { givenName: "x".repeat(3 * 1024 * 1024) } }), { "content-type": "application/json", "content-length": "10" }),
    post("1 MB lab result", "order.changeStatus", superjson.stringify({ ...orderInput, resultData: { report: huge } })),
    post("text/plain body", "patient.register", "hello", { "content-type": "text/plain" }),
    post("batch input not an object", "patient.register,patient.register?batch=1", "[1,2]"),
    post("batch input holds null", "patient.register,patient.register?batch=1", JSON.stringify({ 0: null, 1: { json: null } })),
    post(`batch of ${MAX_BATCH_SIZE + 1}`, `${Array(MAX_BATCH_SIZE + 1).fill("patient.register").join(",")}?batch=1`, "{}"),
    post("batch mixing queries and mutations", "patient.register,patient.list?batch=1", "{}"),
    post("unknown procedure", "patient.nope", "{}"),
    { label: "GET input not JSON", url: "http://localhost/api/trpc/patient.list?input=%7B" },
    { label: "GET input null", url: "http://localhost/api/trpc/patient.list?input=null" },
    { label: "GET forged cursor", url: `http://localhost/api/trpc/order.worklist?input=${encodeURIComponent(superjson.stringify({ cursor: encodeCursor({ r: 70_000, t: "x", id: randomUUID() }) }))}` },
    { label: "GET access-log cursor past int8", url: `http://localhost/api/trpc/audit.accessLog?input=${encodeURIComponent(superjson.stringify({ cursor: "9223372036854775808" }))}` },
    { label: `GET batch of ${MAX_BATCH_SIZE * 3}`, url: `http://localhost/api/trpc/${Array(MAX_BATCH_SIZE * 3).fill("patient.list").join(",")}?batch=1&input=%7B%7D` },
    { label: "PUT", url: "http://localhost/api/trpc/patient.list", init: { method: "PUT", body: "{}" } },
  ];
  // Every procedure once more over HTTP, with a few of the bad values in every field, superjson-encoded.
  const sample = badValues.filter(([label]) => ["NUL inside", "lone high surrogate", "int4 overflow", "JS min date", "forged worklist cursor", "null"].includes(label));
  for (const path of perField ? paths : []) {
    const procedure = procedures[path]!;
    const fields = procedure._def.inputs.flatMap((schema) => fieldPaths(schema));
    for (const field of fields) {
      for (const [label, value] of sample) {
        const input = superjson.stringify(withValue(fx.inputs[path] ?? {}, field, value));
        cases.push(
          procedure._def.type === "mutation"
            ? post(`${path} ${field.join(".")} = ${label}`, path, input)
            : { label: `${path} ${field.join(".")} = ${label}`, url: `http://localhost/api/trpc/${path}?input=${encodeURIComponent(input)}` },
        );
      }
    }
  }
  return cases;
}

/** What no answer may contain: a driver's or Prisma's words. */
const leaks = /prisma|sqlstate|violates|invalid input syntax|out of range for type|DETAIL:|\.[jt]s:\d+/i;

async function fuzzHttp(db: Database, fx: Fixture, findings: Finding[], perField: boolean): Promise<number> {
  const cases = httpCases(fx, perField);
  for (const { label, url, init } of cases) {
    const res = await handleTrpcRequest(new Request(url, { ...init, duplex: "half" } as RequestInit), async () => contextFor(db, fx.user));
    const body = await res.text();
    if (res.status >= 500) findings.push(`HTTP ${label}: status ${res.status} ${body.slice(0, 200)}`);
    if (body.includes("INTERNAL_SERVER_ERROR")) findings.push(`HTTP ${label}: INTERNAL_SERVER_ERROR in ${body.slice(0, 200)}`);
    if (!res.ok && leaks.test(body)) findings.push(`HTTP ${label}: leaks ${body.slice(0, 200)}`);
  }
  return cases.length;
}

/** The status and the error (code, message) of one HTTP answer; for a batch, of its first call. */
async function answer(db: Database, fx: Fixture, url: string, init?: RequestInit) {
  const res = await handleTrpcRequest(new Request(url, { ...init, duplex: "half" } as RequestInit), async () => contextFor(db, fx.user));
  const parsed = JSON.parse(await res.text()) as unknown;
  const first = (Array.isArray(parsed) ? parsed[0] : parsed) as { error?: { json: { message: string; data: { code: string; path?: string } } } };
  return { status: res.status, code: first.error?.json.data.code, message: first.error?.json.message ?? "" };
}

// ---- the suites ------------------------------------------------------------------------------

/**
 * `fields`: every bad value in every field of every input (on PostgreSQL); without it, every bad
 * value as the whole input and the transport cases (on the embedded database, which is slower).
 */
function fuzzSuite(name: string, open: () => Promise<{ db: Database; close: () => Promise<void> }>, options: { fields: boolean; random: boolean }) {
  describe(name, () => {
    let db: Database;
    let close: () => Promise<void>;
    let fx: Fixture;
    beforeAll(async () => {
      ({ db, close } = await open());
      fx = await fixture(db);
    });
    afterAll(async () => close?.());

    it("has a valid sample input for every procedure that takes input", () => {
      const missing = paths.filter((p) => procedures[p]!._def.inputs.length > 0 && !(p in fx.inputs));
      expect(missing).toEqual([]);
    });

    it("answers every malformed input to every procedure without a 500, and a refused mutation writes nothing", { timeout: 120_000 }, async () => {
      const findings: Finding[] = [];
      const counts: Record<string, number> = {};
      for (const path of paths) counts[path] = await fuzzProcedure(db, fx, path, findings, options.fields);
      expect(findings).toEqual([]);
      // At least 40 malformed inputs for each procedure, including those without fields.
      expect(Object.entries(counts).filter(([, n]) => n < 40)).toEqual([]);
    });

    it("says clearly what it refuses at the transport: an oversized batch, an oversized body, a 1 MB lab result", async () => {
      const batch = await answer(db, fx, `http://localhost/api/trpc/${Array(MAX_BATCH_SIZE + 1).fill("patient.list").join(",")}?batch=1&input=%7B%7D`);
      expect(batch).toMatchObject({ status: 400, code: "BAD_REQUEST", message: "Batch call exceeds maximum size" });
      const within = await answer(db, fx, `http://localhost/api/trpc/${Array(MAX_BATCH_SIZE).fill("system.health").join(",")}?batch=1&input=%7B%7D`);
      expect(within.status).toBe(200);

      const body = JSON.stringify({ json: { givenName: "x".repeat(3 * 1024 * 1024) } });
      const big = await answer(db, fx, "http://localhost/api/trpc/patient.register", { method: "POST", headers: { "content-type": "application/json" }, body });
      expect(big).toMatchObject({ status: 413, code: "PAYLOAD_TOO_LARGE" });
      expect(big.message).toMatch(/larger than 2 MB/);

      const order = fx.inputs["order.changeStatus"] as Record<string, unknown>;
      const result = await answer(db, fx, "http://localhost/api/trpc/order.changeStatus", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: superjson.stringify({ ...order, resultData: { report: huge } }),
      });
      expect(result).toMatchObject({ status: 400, code: "BAD_REQUEST" });
      expect(result.message).toMatch(/resultData\.report/);
      expect(result.message).toMatch(/at most 10000 characters/);

      const nul = await answer(db, fx, "http://localhost/api/trpc/patient.register", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: superjson.stringify({ ...(fx.inputs["patient.register"] as object), familyName: "Love\u0000lace" }),
      });
      expect(nul).toMatchObject({ status: 400, code: "BAD_REQUEST" });
      expect(nul.message).toMatch(/NUL character[\s\S]*familyName/);

      const badMeta = await answer(db, fx, "http://localhost/api/trpc/patient.register", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ json: {}, meta: { values: { dateOfBirth: ["nope"] } } }),
      });
      expect(badMeta).toMatchObject({ status: 400, code: "BAD_REQUEST" });

      // Bodies the transport cannot unpack are named as such, not by the library's internals.
      const post = (body: string) => answer(db, fx, "http://localhost/api/trpc/patient.register", { method: "POST", headers: { "content-type": "application/json" }, body });
      for (const body of ["null", JSON.stringify({ json: { mrn: "X" }, meta: { values: "x", referentialEqualities: { mrn: ["x.y.z"] } } })]) {
        const malformed = await post(body);
        expect(malformed, body).toMatchObject({ status: 400, code: "BAD_REQUEST" });
        expect(malformed.message, body).toMatch(/^The request is not a well-formed call/);
      }
    });

    it.skipIf(!options.random)("answers random values from fast-check in any field without a 500", async () => {
      const findings: Finding[] = [];
      for (const path of paths) await fuzzRandom(db, fx, path, findings);
      expect(findings).toEqual([]);
    });

    it("answers broken transport bodies, oversized batches and bodies, and bad values over HTTP without a 500 or a leak", async () => {
      const findings: Finding[] = [];
      const n = await fuzzHttp(db, fx, findings, options.fields);
      expect(findings).toEqual([]);
      expect(n).toBeGreaterThan(options.fields ? 500 : 25);
    });
  });
}

fuzzSuite("fuzz [embedded]", async () => {
  const db = await openTestDatabase("embedded");
  return { db, close: () => db.close() };
}, { fields: false, random: false });

describe.skipIf(!pgUrl)("on PostgreSQL", () => {
  // A database of its own: other test files write to the shared one, and the row counts must be this file's only.
  fuzzSuite("fuzz [postgresql]", async () => {
    const { db, drop } = await openFreshPostgresDatabase(4);
    return { db, close: drop };
  }, { fields: true, random: true });
});
