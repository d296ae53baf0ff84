// Checks an audit extract as an auditor receives it: its bytes, and the public key published
// for the log's seals (never the key the extract carries, which whoever edited it could replace).
// The steps are README's "Verifying an extract"; npm run audit:verify -- --extract FILE runs them.
import { createHash, verify, type KeyObject } from "node:crypto";
import { parse } from "csv-parse/sync";
import { keyIdOf } from "../eventStore";
import { csvColumns, csvSignatureRowType, extractStatement, fhirSignatureMember, type ExportFormat, type ExtractSignature } from "./export";

export type ExtractCheck =
  | { ok: true; format: ExportFormat; exportId: string; rows: number; sha256: string; keyId: string }
  | { ok: false; format: ExportFormat | null; problem: string };

/** The extract's format, from how it begins (each writes a fixed first member or column). */
function formatOf(bytes: Buffer): ExportFormat {
  const start = bytes.subarray(0, 40).toString("utf8");
  if (start.startsWith('{"rowType":"export"')) return "ndjson";
  if (start.startsWith('{"resourceType":"Bundle"')) return "fhir";
  return "csv";
}

/** Where the trailer begins: everything before it is what the signature's sha256 covers. */
function trailerStart(bytes: Buffer, format: ExportFormat): number {
  if (format === "ndjson") {
    // The last line (the extract ends with a newline).
    if (bytes.at(-1) !== 0x0a) return -1;
    return bytes.lastIndexOf(0x0a, bytes.length - 2) + 1;
  }
  if (format === "fhir") return bytes.lastIndexOf(fhirSignatureMember);
  // The last record: a row's quoted cell may hold a line break, but the signature record is last.
  const at = bytes.lastIndexOf(`\r\n${csvSignatureRowType},`);
  return at < 0 ? -1 : at + 2;
}

/** The signature the trailer holds, and the rows and export id the bytes before it say. */
function read(format: ExportFormat, body: Buffer, trailer: string): { signed: Partial<ExtractSignature>; rows: number; exportId: unknown } {
  if (format === "ndjson") {
    const { rowType, ...signed } = JSON.parse(trailer) as Partial<ExtractSignature> & { rowType?: string };
    if (rowType !== "end") throw new Error("its last line is not the end line");
    const text = body.toString("utf8");
    const first = JSON.parse(text.slice(0, text.indexOf("\n"))) as { exportId?: unknown };
    // Lines in the body: the export line, then one per row.
    return { signed, rows: text.split("\n").length - 2, exportId: first.exportId };
  }
  if (format === "fhir") {
    const bundle = JSON.parse(body.toString("utf8") + trailer) as {
      id?: unknown;
      entry?: unknown[];
      signature?: { data?: string; extension?: { url?: string; valueString?: string }[] };
    };
    const extension = bundle.signature?.extension?.find((e) => e.url !== undefined)?.valueString;
    const signed = extension ? (JSON.parse(extension) as Partial<ExtractSignature>) : {};
    // Bundle.signature.data is what is checked: the extension's copy is for reading.
    return { signed: { ...signed, signature: bundle.signature?.data ?? null }, rows: bundle.entry?.length ?? 0, exportId: bundle.id };
  }
  const [record] = parse(trailer, { columns: false, record_delimiter: "\r\n" }) as string[][];
  const signed = JSON.parse(record?.[csvColumns.indexOf("details")] ?? "{}") as Partial<ExtractSignature>;
  // The column header, the rows, then the seal record (its id is the export's).
  const records = parse(body, { columns: false, record_delimiter: "\r\n" }) as string[][];
  const seal = records.at(-1);
  return { signed, rows: records.length - 2, exportId: seal?.[0] === "audit-seal" ? seal[1] : undefined };
}

/**
 * Verifies an extract against the published public keys: its trailer's signature over the
 * statement (export id, view, format, rows, sha256), then the SHA-256 of every byte before the
 * trailer, then the rows and export id the extract itself holds. Names the first that fails.
 */
export function verifyExtract(bytes: Buffer, keys: readonly KeyObject[]): ExtractCheck {
  const format = formatOf(bytes);
  const fail = (problem: string): ExtractCheck => ({ ok: false, format, problem });
  const start = trailerStart(bytes, format);
  if (start <= 0) return fail("no signature trailer: the extract was cut short, or is not an extract of this system");
  const body = bytes.subarray(0, start);
  let found: ReturnType<typeof read>;
  try {
    found = read(format, body, bytes.subarray(start).toString("utf8"));
  } catch (error) {
    return fail(`the extract does not parse as ${format}: ${(error as Error).message}`);
  }
  const { signed } = found;
  if (typeof signed.sha256 !== "string" || typeof signed.exportId !== "string" || typeof signed.rows !== "number" || typeof signed.view !== "string") {
    return fail("the trailer does not hold the extract's signature statement");
  }
  if (signed.format !== format) return fail(`the trailer says format ${String(signed.format)}, the extract is ${format}`);
  if (!signed.signature || !signed.keyId) return fail("the extract is not signed (the server had no AUDIT_SIGNING_KEY)");
  const key = keys.find((k) => keyIdOf(k) === signed.keyId);
  if (!key) return fail(`the extract is signed with key ${signed.keyId}, not the published key ${keys.map(keyIdOf).join(", ") || "(none given)"}`);
  // The statement is rebuilt from the trailer's fields, not taken from its signedText.
  const statement = extractStatement({ exportId: signed.exportId, view: signed.view, format, rows: signed.rows, sha256: signed.sha256 });
  if (!verify(null, Buffer.from(statement), key, Buffer.from(signed.signature, "base64"))) {
    return fail(`the trailer's signature does not verify with key ${signed.keyId}: the trailer was edited or signed by another key`);
  }
  const sha256 = createHash("sha256").update(body).digest("hex");
  if (sha256 !== signed.sha256) {
    return fail(`the extract's bytes before the trailer hash to ${sha256}, the signed sha256 is ${signed.sha256}: a row was changed, added, removed or moved`);
  }
  if (found.rows !== signed.rows) return fail(`the extract holds ${found.rows} rows, the signed count is ${signed.rows}`);
  if (found.exportId !== signed.exportId) return fail(`the extract's header names export ${String(found.exportId)}, the signature export ${signed.exportId}`);
  return { ok: true, format, exportId: signed.exportId, rows: signed.rows, sha256, keyId: signed.keyId };
}
