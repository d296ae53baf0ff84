// An extract's trailer is the last thing in it: bytes after the signature (rows a spreadsheet or
// a FHIR reader would show, outside what the signature covers) make the extract fail to verify.
import { createPublicKey, generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { exportChunks, type AuditRow, type ExportFormat } from "./export";
import { verifyExtract } from "./extractVerify";
import { csvColumns } from "./extractSignature";

const row = (i: number, reason: string): AuditRow => ({
  rowType: "event",
  id: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
  at: new Date(i * 1000),
  occurredAt: null,
  action: "U",
  what: "PatientDemographicsUpdated",
  userId: "u",
  userName: "A user",
  patientId: null,
  patientName: null,
  mrn: null,
  record: "patient-1",
  version: i,
  correlationId: null,
  causationId: null,
  reason,
  review: null,
  details: null,
  hash: null,
  commitPosition: null,
});
const header = { exportId: "00000000-0000-4000-8000-00000000000e", view: "events" as const, filter: {}, exportedBy: { id: "u", name: "U" }, exportedAt: "1970-01-01T00:00:00.000Z", seal: null, publicKey: null };
const { privateKey } = generateKeyPairSync("ed25519");
const keys = [createPublicKey(privateKey)];

async function extract(format: ExportFormat, reason: string): Promise<string> {
  async function* pages() {
    yield [row(1, reason), row(2, reason)];
  }
  let text = "";
  for await (const chunk of exportChunks(pages(), format, header, { key: privateKey })) text += chunk;
  return text;
}

describe("nothing may follow an extract's signature", () => {
  it("csv: a record appended after the signature record is refused", async () => {
    const text = await extract("csv", "new number");
    expect(verifyExtract(Buffer.from(text), keys)).toMatchObject({ ok: true, rows: 2 });
    const fake = (await extract("csv", "forged")).split("\r\n")[1]!;
    const appended = `${text}${fake}\r\n`;
    expect(verifyExtract(Buffer.from(appended), keys)).toMatchObject({ ok: false });
    // Words written into the signature record's empty cells are not signed either.
    const at = text.lastIndexOf("\r\naudit-signature,") + 2;
    const cells = text.slice(at).split(",");
    cells[csvColumns.indexOf("reason")] = "checked and approved by the auditor";
    expect(verifyExtract(Buffer.from(text.slice(0, at) + cells.join(",")), keys)).toMatchObject({ ok: false });
  });

  it("fhir: members added to the Bundle after its signature (a second entry list) are refused", async () => {
    const text = await extract("fhir", "new number");
    expect(verifyExtract(Buffer.from(text), keys)).toMatchObject({ ok: true, rows: 2 });
    const forged = JSON.parse(await extract("fhir", "forged")) as { entry: unknown[] };
    const appended = `${text.slice(0, -1)},"entry":${JSON.stringify(forged.entry)}}`;
    // A JSON reader keeps the last "entry": the forged rows.
    expect(JSON.stringify((JSON.parse(appended) as { entry: unknown[] }).entry)).toContain("forged");
    expect(verifyExtract(Buffer.from(appended), keys)).toMatchObject({ ok: false });
  });

  it("ndjson: a line after the end line is refused", async () => {
    const text = await extract("ndjson", "new number");
    expect(verifyExtract(Buffer.from(text), keys)).toMatchObject({ ok: true, rows: 2 });
    const lines = text.split("\n");
    expect(verifyExtract(Buffer.from(`${text}${lines[1]!}\n`), keys)).toMatchObject({ ok: false });
    // The end line twice: the first is then among the bytes hashed.
    expect(verifyExtract(Buffer.from(`${text}${lines.at(-2)!}\n`), keys)).toMatchObject({ ok: false });
  });
});
