// Audit extracts: any filtered compliance view (the event log, a patient's timeline, the access
// log, the emergency-access review list) as CSV (RFC 4180), NDJSON, or a FHIR R4 Bundle of
// AuditEvent resources. Rows are read a page at a time through the same reads the screens use
// (the store's decoding included) and written as they come, so a million rows never sit in
// memory. Every extract carries the newest signed seal of the log, ends with its own signature
// over its exact bytes, and is itself recorded: one audit_exports row (who, which view and
// filter) and an access-log row per patient it contains.
import { createHash, randomUUID, sign, type KeyObject } from "node:crypto";
import type { AuditEvent, AuditEventEntity, BundleEntry, Coding, Signature } from "@medplum/fhirtypes";
import { stringify } from "csv-stringify/sync";
import { z } from "zod";
import type { Database } from "../db/client";
import { allSealCheckpoints, keyIdOf, latestSealCheckpoint, type SealCheckpoint, type Store, type StoredEvent } from "../eventStore";
import { filterInstant, idText, text } from "../input";
import { patientIdsOf, patientTimeline, searchEvents } from "../projections/audit";
import { patientStreamIds, providerNames } from "../projections/queries";
import { mustExist, patientLabels, readAccessLog, recordAccess } from "../api/accessLog";
import { listEmergencyAccesses, reviewStatus } from "../api/emergencyAccess";
import { describeGrantUse } from "../../shared/audit/grantUse";
import { demographicFieldInput } from "../../shared/clinical/patients";
import { tolerantStore } from "../api/undecodable";
import type { SessionUser } from "../auth/roles";
import { publicKeyPem } from "./signingKey";
import { csvColumns, csvSignatureRowType, extractSignatureExtensionUrl, extractStatement, fhirSignatureMember, type ExtractSignature } from "./extractSignature";

export { csvColumns, extractStatement, fhirSignatureMember, type ExtractSignature } from "./extractSignature";

/** Rows read per round trip. */
export const exportPageSize = 500;

export const exportFormats = ["csv", "ndjson", "fhir"] as const;
export type ExportFormat = (typeof exportFormats)[number];

// Query strings carry text: instants arrive as ISO strings, lists as repeated keys. An instant
// must name its zone (Z or an offset): without one, `new Date` reads a date as UTC midnight and a
// date and time in the server's own zone, so one link would extract different rows on each server.
const zonedInstant = /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d{1,9})?)?(Z|[+-]\d\d:\d\d)$/i;
function realCalendarDay(v: string): boolean {
  const [y, m, d] = v.slice(0, 10).split("-").map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1, d)).getUTCDate() === d && m >= 1 && m <= 12;
}
const instant = z
  .string()
  .regex(zonedInstant, "must be an ISO 8601 date and time with its zone, e.g. 2026-10-31T23:59:59Z or 2026-10-31T23:59:59-04:00")
  // `new Date` rolls 30 February over to 2 March: a day the calendar lacks is refused instead.
  .refine(realCalendarDay, "must be a real calendar date")
  .transform((v) => new Date(v))
  .pipe(filterInstant)
  .optional();
const eventType = z.string().regex(/^[A-Za-z][A-Za-z0-9_.]{0,99}$/, "not an event type name");
const format = z.enum(exportFormats, "format must be csv, ndjson or fhir");
const patientId = z.uuid("patient id must be a uuid");
const beforeFrom = (f: { from?: Date; to?: Date }) => !f.from || !f.to || f.from < f.to;

export const exportInput = z.discriminatedUnion("view", [
  z
    .object({
      view: z.literal("events"),
      format,
      eventTypes: z.array(eventType).max(20).optional(),
      streamId: text(200, { min: 1 }).optional(),
      aggregateType: text(50, { min: 1 }).optional(),
      userId: idText.optional(),
      correlationId: idText.optional(),
      occurredFrom: instant,
      occurredTo: instant,
      recordedFrom: instant,
      recordedTo: instant,
    })
    // As audit.events refuses them: an inverted window is a mistake, not an empty extract.
    .refine((f) => beforeFrom({ from: f.occurredFrom, to: f.occurredTo }), { message: "from must be before to", path: ["occurredTo"] })
    .refine((f) => beforeFrom({ from: f.recordedFrom, to: f.recordedTo }), { message: "from must be before to", path: ["recordedTo"] }),
  z.object({ view: z.literal("timeline"), format, patientId, eventTypes: z.array(eventType).max(20).optional(), field: demographicFieldInput.optional() }),
  z
    .object({ view: z.literal("access"), format, patientId: patientId.optional(), userId: idText.optional(), from: instant, to: instant })
    .refine(beforeFrom, { message: "from must be before to", path: ["to"] }),
  z.object({ view: z.literal("review"), format, status: reviewStatus.default("all"), patientId: patientId.optional() }),
]);
export type ExportRequest = z.output<typeof exportInput>;

/** The request from a URL's query string (lists as repeated keys: eventTypes=A&eventTypes=B). */
export function exportRequestFrom(params: URLSearchParams) {
  const raw: Record<string, unknown> = {};
  for (const key of new Set(params.keys())) {
    raw[key] = key === "eventTypes" ? params.getAll(key).slice(0, 21) : params.get(key);
  }
  return exportInput.safeParse(raw);
}

/** One row of any view, in one shape: the CSV columns, the NDJSON objects, the AuditEvents. */
export type AuditRow = {
  rowType: "event" | "access" | "emergency_access";
  id: string;
  /** When it was recorded: the event's recorded time, the read, the grant. */
  at: Date;
  /** The event's clinical time (events only). */
  occurredAt: Date | null;
  /** FHIR's action: C(reate), R(ead), U(pdate). */
  action: "C" | "R" | "U";
  /** The event type, the screen in words, or "break the glass". */
  what: string;
  userId: string;
  userName: string | null;
  patientId: string | null;
  patientName: string | null;
  mrn: string | null;
  /** The record (stream) an event belongs to. */
  record: string | null;
  version: number | null;
  correlationId: string | null;
  causationId: string | null;
  reason: string | null;
  review: string | null;
  /** The event's payload as JSON (decoded, upcast). */
  details: string | null;
  /** The event's stored hash (hex) and its place in commit order ("xid:position"), for checking against the seal. */
  hash: string | null;
  commitPosition: string | null;
};


/**
 * Every CSV record goes out with these. escape_formulas is OWASP's rule against formula
 * injection: names, reasons and notes are typed by clinicians and admins, and a cell that starts
 * with = + - @ (or their full-width forms), a TAB or a CR runs as a formula when a compliance
 * officer opens the extract in a spreadsheet (=HYPERLINK(...) sends the row's data away). Such a
 * text cell gets a leading single quote; numbers typed as numbers (version) are left alone.
 */
const csvOptions = { record_delimiter: "windows", escape_formulas: true } as const;

/** What the extract's seal record says about the quoting above, for whoever reads the cells back. */
export const CSV_FORMULA_NOTE =
  "Text cells that begin with =, +, -, @ (or their full-width forms), a TAB or a CR carry a leading single quote (') so spreadsheets do not run them as formulas; remove it to read the original text.";

function csvRecord(row: AuditRow): (string | number | null)[] {
  return [
    row.rowType,
    row.id,
    row.at.toISOString(),
    row.occurredAt?.toISOString() ?? null,
    row.action,
    row.what,
    row.userId,
    row.userName,
    row.patientId,
    row.patientName,
    row.mrn,
    row.record,
    row.version,
    row.correlationId,
    row.causationId,
    row.reason,
    row.review,
    row.details,
    row.hash,
    row.commitPosition,
  ];
}

// ---- reading a view page by page ---------------------------------------------------------------

type ExportContext = { db: Database; store: Store; user: SessionUser; correlationId: string };

async function eventRows(ctx: ExportContext, events: readonly StoredEvent[]): Promise<AuditRow[]> {
  const [patients, users, stored] = await Promise.all([
    patientIdsOf(ctx.db.prisma, events),
    providerNames(ctx.db.prisma, events.map((e) => e.metadata.userId)),
    // The hash and commit position only: the payload comes decoded through the store's read.
    ctx.store.sql<{ event_id: string; hash: string | null; xid: string }>(
      "SELECT event_id::text AS event_id, encode(hash, 'hex') AS hash, transaction_id::text AS xid FROM events WHERE event_id = ANY ($1::uuid[])",
      [events.map((e) => e.metadata.eventId)],
    ),
  ]);
  const labels = await patientLabels(ctx.db, [...patients.values()].filter((p): p is string => p !== null));
  const byId = new Map(stored.map((r) => [r.event_id, r]));
  return events.map((event) => {
    const patientId = patients.get(event.metadata.eventId) ?? null;
    const label = patientId ? labels.get(patientId) : undefined;
    const s = byId.get(event.metadata.eventId);
    return {
      rowType: "event",
      id: event.metadata.eventId,
      at: event.metadata.recordedAt,
      occurredAt: event.metadata.occurredAt,
      action: event.version === 1 ? "C" : "U",
      what: event.type,
      userId: event.metadata.userId,
      userName: users[event.metadata.userId] ?? null,
      patientId,
      patientName: label?.name ?? null,
      mrn: label?.mrn ?? null,
      record: event.streamId,
      version: event.version,
      correlationId: event.metadata.correlationId,
      causationId: event.metadata.causationId,
      reason: typeof event.data.reason === "string" ? event.data.reason : null,
      review: null,
      details: JSON.stringify(event.data),
      hash: s?.hash ?? null,
      commitPosition: s ? `${s.xid}:${event.globalPosition}` : null,
    };
  });
}

/** The view's rows, a page at a time, newest first (as the screens list them). */
async function* viewPages(ctx: ExportContext, request: ExportRequest): AsyncGenerator<AuditRow[]> {
  // A page of a filtered extract may read far into a large log for its 500 rows: an extract is
  // long work, so its pages run without the requests' statement bound.
  const store = tolerantStore({ ...ctx.store, sql: ctx.store.longSql ?? ctx.store.sql }, { procedure: "audit.export", correlationId: ctx.correlationId });
  switch (request.view) {
    case "events": {
      const { view: _v, format: _f, ...filter } = request;
      let before: number | undefined;
      for (;;) {
        const page = await searchEvents(store, { ...filter, before, limit: exportPageSize });
        if (page.events.length > 0) yield await eventRows(ctx, page.events);
        if (!page.hasMore) return;
        before = page.events.at(-1)!.globalPosition;
      }
    }
    case "timeline": {
      const streamIds = await patientStreamIds(ctx.db.prisma, request.patientId);
      let before: number | undefined;
      for (;;) {
        const page = await patientTimeline(store, streamIds, { eventTypes: request.eventTypes, field: request.field, before, limit: exportPageSize });
        if (page.events.length > 0) yield await eventRows(ctx, page.events);
        if (!page.hasMore || page.next === null) return;
        before = page.next;
      }
    }
    case "access": {
      let cursor: { id: string } | undefined;
      for (;;) {
        const page = await readAccessLog(ctx.db, { patientId: request.patientId, userId: request.userId, from: request.from, to: request.to, cursor, limit: exportPageSize });
        if (page.rows.length > 0) {
          yield page.rows.map((r) => ({
            rowType: "access",
            id: r.id,
            at: r.accessedAt,
            occurredAt: null,
            action: "R",
            what: r.screen,
            userId: r.userId,
            userName: r.userName,
            patientId: r.patientId,
            patientName: r.patient?.name ?? null,
            mrn: r.patient?.mrn ?? null,
            record: null,
            version: null,
            correlationId: r.correlationId,
            causationId: null,
            reason: null,
            review: null,
            details: null,
            hash: null,
            commitPosition: null,
          }));
        }
        if (!page.nextCursor) return;
        cursor = { id: page.rows.at(-1)!.id };
      }
    }
    case "review": {
      let cursor: { grantedAt: string; id: string } | undefined;
      for (;;) {
        const page = await listEmergencyAccesses(ctx.db, { status: request.status, patientId: request.patientId, cursor, limit: exportPageSize });
        if (page.items.length > 0) {
          yield page.items.map((a) => ({
            rowType: "emergency_access",
            id: a.accessId,
            at: a.grantedAt,
            occurredAt: null,
            action: "R",
            what: "break the glass",
            userId: a.userId,
            userName: a.userName,
            patientId: a.patientId,
            patientName: a.patient?.name ?? null,
            mrn: a.patient?.mrn ?? null,
            record: null,
            version: null,
            correlationId: null,
            causationId: null,
            reason: a.reason,
            review: a.review ? `reviewed by ${a.review.reviewerName ?? a.review.reviewerId} at ${a.review.reviewedAt.toISOString()}: ${a.review.note}` : null,
            details: describeGrantUse(a.use),
            hash: null,
            commitPosition: null,
          }));
        }
        if (!page.nextCursor) return;
        const last = page.items.at(-1)!;
        cursor = { grantedAt: last.grantedAt.toISOString(), id: last.accessId };
      }
    }
  }
}

// ---- FHIR ---------------------------------------------------------------------------------------

const dicomPatientRecord: Coding = { system: "http://dicom.nema.org/resources/ontology/DCM", code: "110110", display: "Patient Record" };
const entityPerson: Coding = { system: "http://terminology.hl7.org/CodeSystem/audit-entity-type", code: "1", display: "Person" };
const entitySystemObject: Coding = { system: "http://terminology.hl7.org/CodeSystem/audit-entity-type", code: "2", display: "System Object" };
const rolePatient: Coding = { system: "http://terminology.hl7.org/CodeSystem/object-role", code: "1", display: "Patient" };
const roleMasterFile: Coding = { system: "http://terminology.hl7.org/CodeSystem/object-role", code: "4", display: "Domain Resource" };
export const sealExtensionUrl = "urn:emr:fhir:StructureDefinition:audit-seal";

/** FHIR strings may not be empty: leave a field out instead. */
const nonEmpty = (s: string | null | undefined): string | undefined => (s && s.trim() !== "" ? s : undefined);

/** One row as an R4 AuditEvent: agent = the user, entity = the patient and the record, action, recorded, outcome. */
export function toAuditEvent(row: AuditRow): AuditEvent {
  const entity: AuditEventEntity[] = [];
  if (row.patientId) {
    entity.push({ what: { reference: `Patient/${row.patientId}`, display: nonEmpty(row.patientName) }, type: entityPerson, role: rolePatient });
  }
  if (row.record) {
    const detail = [
      { type: "version", valueString: String(row.version) },
      ...(row.hash ? [{ type: "hash", valueString: row.hash }] : []),
      ...(row.commitPosition ? [{ type: "commitPosition", valueString: row.commitPosition }] : []),
      ...(row.details ? [{ type: "data", valueString: row.details }] : []),
    ];
    entity.push({ what: { identifier: { system: "urn:emr:record", value: row.record } }, type: entitySystemObject, role: roleMasterFile, detail });
  }
  return {
    resourceType: "AuditEvent",
    id: row.id,
    type: dicomPatientRecord,
    subtype: [{ system: `urn:emr:${row.rowType === "event" ? "event-type" : row.rowType === "access" ? "screen" : "access"}`, code: row.what }],
    action: row.action,
    ...(row.occurredAt ? { period: { start: row.occurredAt.toISOString(), end: row.occurredAt.toISOString() } } : {}),
    recorded: row.at.toISOString(),
    outcome: "0",
    ...(row.reason ? { purposeOfEvent: [{ text: row.reason }] } : {}),
    agent: [
      {
        who: { identifier: { system: "urn:emr:user", value: row.userId }, display: nonEmpty(row.userName) },
        requestor: true,
        ...(row.reason && row.rowType === "emergency_access" ? { purposeOfUse: [{ text: row.reason }] } : {}),
      },
    ],
    source: { observer: { display: "EMR event store" }, type: [{ system: "http://terminology.hl7.org/CodeSystem/security-source-type", code: "4", display: "Application Server" }] },
    ...(entity.length > 0 ? { entity } : {}),
  };
}

// ---- writing -------------------------------------------------------------------------------------

/** What every extract says about itself, so an auditor can check it against the signed log. */
export type ExportHeader = {
  exportId: string;
  view: ExportRequest["view"];
  filter: Record<string, unknown>;
  exportedBy: { id: string; name: string };
  exportedAt: string;
  seal: SealCheckpoint | null;
  /**
   * Every seal, oldest first, in an extract of the whole event log (no filter): with each event's
   * hash and commit position the auditor recomputes every seal's chain (README, "Verifying an extract").
   */
  seals?: SealCheckpoint[];
  /** The sealing key's public half (SPKI PEM), when this server knows it. */
  publicKey: string | null;
  /**
   * The public keys of earlier signing keys (AUDIT_VERIFY_PUBLIC_KEYS) with their key ids, when
   * there are any: seals signed before a rotation name one of them (`keyId`).
   */
  earlierPublicKeys?: { keyId: string; publicKey: string }[];
};

function withoutUndefined(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined));
}

export function signExtract(s: Pick<ExtractSignature, "exportId" | "view" | "format" | "rows" | "sha256">, key: KeyObject | null): ExtractSignature {
  const signedText = extractStatement(s);
  return {
    exportId: s.exportId,
    view: s.view,
    format: s.format,
    rows: s.rows,
    sha256: s.sha256,
    keyId: key ? keyIdOf(key) : null,
    signature: key ? sign(null, Buffer.from(signedText), key).toString("base64") : null,
    signedText,
  };
}

/** The trailer that ends an extract, its signature inside. */
function trailer(format: ExportFormat, signed: ExtractSignature): string {
  if (format === "ndjson") return `${JSON.stringify({ rowType: "end", ...signed })}\n`;
  if (format === "csv") {
    const record: Partial<Record<(typeof csvColumns)[number], string | number>> = {
      row_type: csvSignatureRowType,
      id: signed.exportId,
      what: signed.format,
      version: signed.rows,
      hash: signed.sha256,
      details: JSON.stringify(signed),
    };
    return stringify([csvColumns.map((c) => record[c] ?? null)], csvOptions);
  }
  // R4's Bundle.signature: who is the key (by id), data the raw Ed25519 signature over the
  // statement (targetFormat text/plain); the statement's fields ride in an extension.
  const signature: Signature = {
    type: [{ system: "urn:iso-astm:E1762-95:2013", code: "1.2.840.10065.1.12.1.5", display: "Verification Signature" }],
    when: new Date().toISOString(),
    who: signed.keyId ? { identifier: { system: "urn:emr:audit-signing-key", value: signed.keyId } } : { display: "EMR event store (no signing key)" },
    targetFormat: "text/plain",
    sigFormat: "application/octet-stream",
    ...(signed.signature ? { data: signed.signature } : {}),
    extension: [{ url: extractSignatureExtensionUrl, valueString: JSON.stringify(signed) }],
  };
  return `${fhirSignatureMember}${JSON.stringify(signature)}}`;
}

/**
 * The extract as text chunks: one per page read, never the whole result. The bytes are hashed as
 * they go out (incrementally: an extract of a million rows stays flat in memory) and the trailer
 * signs the digest; `onSigned` hears it before the trailer is written.
 */
export async function* exportChunks(
  pages: AsyncIterable<AuditRow[]>,
  format: ExportFormat,
  header: ExportHeader,
  signing: { key?: KeyObject | null; onSigned?: (signed: ExtractSignature) => Promise<void> } = {},
): AsyncGenerator<string> {
  let rows = 0;
  async function* counted() {
    for await (const page of pages) {
      rows += page.length;
      yield page;
    }
  }
  const digest = createHash("sha256");
  for await (const chunk of bodyChunks(counted(), format, header)) {
    // The bytes the client receives: the route encodes each chunk as UTF-8, as Buffer.from does.
    digest.update(Buffer.from(chunk, "utf8"));
    yield chunk;
  }
  const signed = signExtract({ exportId: header.exportId, view: header.view, format, rows, sha256: digest.digest("hex") }, signing.key ?? null);
  await signing.onSigned?.(signed);
  yield trailer(format, signed);
}

/** Everything before the trailer. */
async function* bodyChunks(pages: AsyncIterable<AuditRow[]>, format: ExportFormat, header: ExportHeader): AsyncGenerator<string> {
  const iterator = pages[Symbol.asyncIterator]();
  if (format === "csv") {
    yield stringify([[...csvColumns]], csvOptions);
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
      yield stringify(next.value.map(csvRecord), csvOptions);
    }
    // The seal and what was exported, in the same columns (details holds the JSON, with the note
    // on formula quoting); the signature record follows it.
    const seal: Partial<Record<(typeof csvColumns)[number], string>> = {
      row_type: "audit-seal",
      id: header.exportId,
      at: header.exportedAt,
      what: header.view,
      user_id: header.exportedBy.id,
      user_name: header.exportedBy.name,
      details: JSON.stringify({ ...header, formulaQuoting: CSV_FORMULA_NOTE }),
    };
    yield stringify([csvColumns.map((c) => seal[c] ?? null)], csvOptions);
    return;
  }
  if (format === "ndjson") {
    yield `${JSON.stringify({ rowType: "export", ...header })}\n`;
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
      yield next.value.map((row) => JSON.stringify(row)).join("\n") + "\n";
    }
    // The end line (the trailer) says the extract is whole: a download cut short between two
    // lines (a closed connection, a server stopped) would otherwise read as a complete, shorter
    // extract. CSV ends with its signature record and a Bundle with its closing brace, to the same end.
    return;
  }
  // FHIR: a collection Bundle written as it streams; the seal rides in the Bundle's meta, the
  // extract's signature in Bundle.signature, its last member.
  const first = await iterator.next();
  const head = {
    resourceType: "Bundle",
    id: header.exportId,
    meta: { extension: [{ url: sealExtensionUrl, valueString: JSON.stringify(header) }] },
    identifier: { system: "urn:emr:audit-export", value: header.exportId },
    type: "collection",
    timestamp: header.exportedAt,
  };
  const open = JSON.stringify(head).slice(0, -1);
  if (first.done) {
    yield open;
    return;
  }
  const entries = (rows: AuditRow[]) =>
    rows.map((row) => JSON.stringify({ fullUrl: `urn:uuid:${randomUUIDFor(row)}`, resource: toAuditEvent(row) } satisfies BundleEntry<AuditEvent>)).join(",");
  yield `${open},"entry":[${entries(first.value)}`;
  for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
    yield `,${entries(next.value)}`;
  }
  yield "]";
}

/** Entries need a full URL: the row's own uuid where it has one (events, grants), else a fresh one. */
function randomUUIDFor(row: AuditRow): string {
  return /^[0-9a-f-]{36}$/i.test(row.id) ? row.id : randomUUID();
}

export const exportContentTypes: Record<ExportFormat, string> = {
  csv: "text/csv; charset=utf-8; header=present",
  ndjson: "application/x-ndjson; charset=utf-8",
  fhir: "application/fhir+json; charset=utf-8",
};
const extensions: Record<ExportFormat, string> = { csv: "csv", ndjson: "ndjson", fhir: "fhir.json" };

/**
 * Starts an extract: records it (audit_exports), then returns its chunks. As each page goes out,
 * the patients on it are recorded in the access log ("exported in an audit extract"), so the
 * log says who exported whose data before the data leaves.
 */
export async function startExport(
  ctx: ExportContext,
  request: ExportRequest,
  options: { publicKey?: string | null; signingKey?: KeyObject | null; earlierPublicKeys?: { keyId: string; publicKey: string }[] } = {},
): Promise<{ exportId: string; filename: string; contentType: string; seal: SealCheckpoint | null; chunks: AsyncGenerator<string> }> {
  // A patient or reader that does not exist would give an empty, sealed extract that reads as
  // "nobody read it": refused as the screens refuse it (the event view's user may be a system one).
  await mustExist(ctx, { patientId: "patientId" in request ? request.patientId : undefined, userId: request.view === "access" ? request.userId : undefined });
  const exportId = randomUUID();
  const seal = await latestSealCheckpoint(ctx.store);
  const { view, format: fmt, ...rest } = request;
  const filter = withoutUndefined(rest as Record<string, unknown>);
  await ctx.db.prisma.auditExport.create({
    data: { id: exportId, userId: ctx.user.id, view, format: fmt, filter: JSON.parse(JSON.stringify(filter)), sealSeq: seal ? BigInt(seal.seq) : null, correlationId: ctx.correlationId },
    select: { id: true },
  });
  const header: ExportHeader = {
    exportId,
    view,
    filter,
    exportedBy: { id: ctx.user.id, name: ctx.user.name },
    exportedAt: new Date().toISOString(),
    seal,
    ...(view === "events" && Object.keys(filter).length === 0 ? { seals: await allSealCheckpoints(ctx.store) } : {}),
    publicKey: options.publicKey ?? (options.signingKey ? publicKeyPem(options.signingKey) : null),
    ...(options.earlierPublicKeys?.length ? { earlierPublicKeys: options.earlierPublicKeys } : {}),
  };
  async function* recorded(): AsyncGenerator<AuditRow[]> {
    for await (const rows of viewPages(ctx, request)) {
      const patientIds = [...new Set(rows.map((r) => r.patientId).filter((p): p is string => p !== null))];
      await recordAccess(ctx, { patientIds, procedure: "audit.export", screen: "audit_export", viewId: exportId });
      yield rows;
    }
  }
  const stamp = header.exportedAt.slice(0, 19).replace(/[:T]/g, "-");
  return {
    exportId,
    filename: `audit-${view}-${stamp}.${extensions[fmt]}`,
    contentType: exportContentTypes[fmt],
    seal,
    chunks: exportChunks(recorded(), fmt, header, {
      key: options.signingKey,
      // Kept before the trailer goes out: the digest of what the server wrote, to hold a copy
      // against; an extract with no row here never finished.
      onSigned: async (signed) => {
        await ctx.store.sql(
          "INSERT INTO audit_export_signatures (export_id, rows, sha256, key_id, signature) VALUES ($1::uuid, $2, $3, $4, $5)",
          [signed.exportId, signed.rows, Buffer.from(signed.sha256, "hex"), signed.keyId, signed.signature === null ? null : Buffer.from(signed.signature, "base64")],
        );
      },
    }),
  };
}

/** A text generator as a byte stream that reads the next page only when the client takes the last. */
export function toReadableStream(chunks: AsyncGenerator<string>, onError?: (error: unknown) => void): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const next = await chunks.next();
          if (next.done) controller.close();
          else controller.enqueue(encoder.encode(next.value));
        } catch (error) {
          onError?.(error);
          controller.error(error);
        }
      },
      async cancel() {
        await chunks.return(undefined);
      },
    },
    { highWaterMark: 1 },
  );
}
