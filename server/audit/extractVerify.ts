// Checks an audit extract as an auditor receives it: its bytes, and the public key published
// for the log's seals (never the key the extract carries, which whoever edited it could replace).
// The steps are README's "Verifying an extract"; npm run audit:verify -- --extract FILE runs them.
import { createHash, verify, type KeyObject } from "node:crypto";
import { parse } from "csv-parse/sync";
import { keyIdOf } from "../eventStore/integrity";
import type { ExportFormat } from "./export";
import { csvColumns, csvSignatureRowType, extractSignatureExtensionUrl, extractStatement, fhirSignatureMember, type ExtractSignature } from "./extractSignature";

export type ExtractCheck =
  | { ok: true; format: ExportFormat; exportId: string; rows: number; sha256: string; keyId: string }
  | { ok: false; format: ExportFormat | null; problem: string };

/** The trailer is a few hundred bytes: this much of the end is held back from the hash until the end is known. */
const holdBackDefault = 64 * 1024;
const fhirEntry = Buffer.from('{"fullUrl":"');

/** The extract's format, from how it begins (each writes a fixed first member or column). */
function formatOf(start: string): ExportFormat {
  if (start.startsWith('{"rowType":"export"')) return "ndjson";
  if (start.startsWith('{"resourceType":"Bundle"')) return "fhir";
  return "csv";
}

/** Where the trailer begins in the extract's last bytes, or -1: everything before it is what the signature's sha256 covers. */
function trailerStart(tail: Buffer, format: ExportFormat): number {
  if (format === "ndjson") {
    // The last line (the extract ends with a newline).
    if (tail.at(-1) !== 0x0a) return -1;
    const at = tail.lastIndexOf(0x0a, tail.length - 2);
    return at < 0 ? -1 : at + 1;
  }
  if (format === "fhir") return tail.lastIndexOf(fhirSignatureMember);
  // The last record: a row's quoted cell may hold a line break, but the signature record is last.
  const at = tail.lastIndexOf(`\r\n${csvSignatureRowType},`);
  return at < 0 ? -1 : at + 2;
}

/** The signature statement the trailer holds. */
function signatureIn(format: ExportFormat, trailer: string): Partial<ExtractSignature> {
  if (format === "ndjson") {
    const { rowType, ...signed } = JSON.parse(trailer) as Partial<ExtractSignature> & { rowType?: string };
    if (rowType !== "end") throw new Error("its last line is not the end line");
    return signed;
  }
  if (format === "fhir") {
    // `,"signature":{...}}`: the member, then the Bundle's closing brace, and nothing else: a
    // member after it (a second "entry", which a JSON reader takes over the first) is outside
    // what the signature covers.
    const member = JSON.parse(`{${trailer.slice(1)}`) as Record<string, unknown>;
    if (Object.keys(member).join() !== "signature") throw new Error("the Bundle has members after its signature, which the signature does not cover");
    const signature = member as { signature?: { data?: string; extension?: { url?: string; valueString?: string }[] } };
    const extension = signature.signature?.extension?.find((e) => e.url === extractSignatureExtensionUrl)?.valueString;
    // Bundle.signature.data is what is checked: the extension's copy is for reading.
    return { ...(extension ? (JSON.parse(extension) as Partial<ExtractSignature>) : {}), signature: signature.signature?.data ?? null };
  }
  const records = parse(trailer, { columns: false, record_delimiter: "\r\n" }) as string[][];
  // The signature record is the last: records after it are outside what it covers.
  if (records.length !== 1) throw new Error("records follow the signature record, which the signature does not cover");
  const record = records[0]!;
  const signed = JSON.parse(record[csvColumns.indexOf("details")] ?? "{}") as Partial<ExtractSignature>;
  // Its other cells are empty or repeat the signed fields: text there would read as vouched for.
  const expected: Partial<Record<(typeof csvColumns)[number], string>> = {
    row_type: csvSignatureRowType,
    id: String(signed.exportId),
    what: String(signed.format),
    version: String(signed.rows),
    hash: String(signed.sha256),
    details: record[csvColumns.indexOf("details")],
  };
  if (record.length !== csvColumns.length || csvColumns.some((c, i) => record[i] !== (expected[c] ?? ""))) {
    throw new Error("the signature record holds cells other than the signed statement");
  }
  return signed;
}

/**
 * Counts the rows of the bytes before the trailer as they pass: NDJSON lines after the first;
 * CSV records (line ends outside quotes) after the column header, less the seal record; Bundle
 * entries (each begins {"fullUrl":", which JSON cannot hold unescaped inside a string).
 */
function rowCounter(format: ExportFormat) {
  let count = 0;
  let quoted = false;
  let previous = Buffer.alloc(0);
  return {
    add(bytes: Buffer) {
      if (format === "fhir") {
        // The last few bytes of the previous piece again: an entry's opening may straddle two.
        const window = Buffer.concat([previous, bytes]);
        for (let at = window.indexOf(fhirEntry); at >= 0; at = window.indexOf(fhirEntry, at + 1)) count++;
        previous = window.subarray(Math.max(0, window.length - (fhirEntry.length - 1)));
        return;
      }
      for (const byte of bytes) {
        if (byte === 0x22) quoted = !quoted;
        else if (byte === 0x0a && !(format === "csv" && quoted)) count++;
      }
    },
    rows: () => (format === "fhir" ? count : count - (format === "csv" ? 2 : 1)),
  };
}

/**
 * Verifies an extract against the published public keys, a piece at a time (an extract of a
 * million rows is never held whole): its trailer's signature over the statement (export id,
 * view, format, rows, sha256), then the SHA-256 of every byte before the trailer, then the rows
 * those bytes hold. Names the first that fails. verifyExtract does it for bytes in hand.
 */
export function extractVerifier(keys: readonly KeyObject[], held = holdBackDefault) {
  const digest = createHash("sha256");
  let format: ExportFormat | null = null;
  let counter: ReturnType<typeof rowCounter> | null = null;
  let pending = Buffer.alloc(0);
  const pass = (bytes: Buffer) => {
    digest.update(bytes);
    counter!.add(bytes);
  };
  return {
    update(chunk: Uint8Array) {
      pending = Buffer.concat([pending, chunk]);
      if (!format && pending.length >= 64) format = formatOf(pending.subarray(0, 64).toString("utf8"));
      if (format && pending.length > 2 * held) {
        counter ??= rowCounter(format);
        pass(pending.subarray(0, pending.length - held));
        pending = Buffer.from(pending.subarray(pending.length - held));
      }
    },
    finish(): ExtractCheck {
      format ??= formatOf(pending.subarray(0, 64).toString("utf8"));
      counter ??= rowCounter(format);
      const fail = (problem: string): ExtractCheck => ({ ok: false, format, problem });
      const start = trailerStart(pending, format);
      if (start <= 0) return fail("no signature trailer: the extract was cut short, or is not an extract of this system");
      pass(pending.subarray(0, start));
      let signed: Partial<ExtractSignature>;
      try {
        signed = signatureIn(format, pending.subarray(start).toString("utf8"));
      } catch (error) {
        return fail(`its trailer does not parse: ${(error as Error).message}`);
      }
      return checkSigned(format, signed, keys, digest.digest("hex"), counter.rows());
    },
  };
}

function checkSigned(format: ExportFormat, signed: Partial<ExtractSignature>, keys: readonly KeyObject[], sha256: string, rows: number): ExtractCheck {
  const fail = (problem: string): ExtractCheck => ({ ok: false, format, problem });
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
  if (sha256 !== signed.sha256) {
    return fail(`the extract's bytes before the trailer hash to ${sha256}, the signed sha256 is ${signed.sha256}: a row was changed, added, removed or moved`);
  }
  if (rows !== signed.rows) return fail(`the extract holds ${rows} rows, the signed count is ${signed.rows}`);
  return { ok: true, format, exportId: signed.exportId, rows: signed.rows, sha256, keyId: signed.keyId };
}

/** An extract in hand, verified (extractVerifier). */
export function verifyExtract(bytes: Uint8Array, keys: readonly KeyObject[]): ExtractCheck {
  const verifier = extractVerifier(keys);
  verifier.update(bytes);
  return verifier.finish();
}
