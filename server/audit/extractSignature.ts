// What an audit extract's signature is and where it sits, shared by the writer (export.ts) and
// the verifier (extractVerify.ts), which auditors' tools and the e2e journeys load without the
// server's reads.
import type { ExportFormat, ExportRequest } from "./export";

/** The CSV columns, in order. */
export const csvColumns = [
  "row_type",
  "id",
  "at",
  "occurred_at",
  "action",
  "what",
  "user_id",
  "user_name",
  "patient_id",
  "patient_name",
  "mrn",
  "record",
  "version",
  "correlation_id",
  "causation_id",
  "reason",
  "review",
  "details",
  "hash",
  "commit_position",
] as const;

/**
 * The signature every extract ends with: Ed25519, with the key that signs the log's seals, over
 * a statement of what the extract is (its id, view, format, row count) and the SHA-256 of every
 * byte written before its trailer. The log's seal in the header only vouches for the log: without
 * this, a changed payload, reason or time, swapped rows or a row spliced in from another extract
 * read as genuine (README, "Verifying an extract"). Null signature: no key (production without
 * AUDIT_SIGNING_KEY, where nothing is sealed either); the digest is still there.
 */
export type ExtractSignature = {
  exportId: string;
  view: ExportRequest["view"];
  format: ExportFormat;
  rows: number;
  /** Lowercase hex SHA-256 of the extract's bytes before the trailer. */
  sha256: string;
  keyId: string | null;
  /** Base64 Ed25519 signature over `signedText`. */
  signature: string | null;
  signedText: string;
};

/** What an extract's signature covers: its canonical text. */
export function extractStatement(s: Pick<ExtractSignature, "exportId" | "view" | "format" | "rows" | "sha256">): string {
  return ["emr-audit-extract-v1", `export=${s.exportId}`, `view=${s.view}`, `format=${s.format}`, `rows=${s.rows}`, `sha256=${s.sha256}`].join("\n");
}

export const extractSignatureExtensionUrl = "urn:emr:fhir:StructureDefinition:audit-extract-signature";
/** The CSV's last record and the FHIR Bundle's last member begin with these: everything before them is hashed. */
export const csvSignatureRowType = "audit-signature";
export const fhirSignatureMember = ',"signature":';

