// An auditor checks an extract with nothing but the extract, the published key and standard
// crypto (README, "Verifying an extract"): every extract's own signature over its bytes (any
// change to them is caught), and for an extract of the whole event log, each seal's signature
// over its text and each seal's chain over the exported events' hashes in commit order. On an
// embedded database of its own, so the whole log is this file's.
import { createHash, createPublicKey, generateKeyPairSync, sign, verify } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import type { Database } from "../db/client";
import { keyIdOf, sealLog } from "../eventStore";
import { callerFor, contextFor, newPatient, testUser } from "../testing/caller";
import { openTestDatabase } from "../testing/db";
import { exportChunks, exportFormats, extractStatement, fhirSignatureMember, startExport, type AuditRow, type ExportFormat } from "./export";
import { extractVerifier, verifyExtract } from "./extractVerify";
import { publicKeyPem } from "./signingKey";

type Seal = { seq: number; from: string | null; to: string; eventCount: number; chainHash: string; signature: string; signedText: string; keyId: string };
type Line = {
  rowType: string;
  hash?: string | null;
  commitPosition?: string | null;
  seals?: Seal[];
  publicKey?: string;
  earlierPublicKeys?: { keyId: string; publicKey: string }[];
};

/** "xid:position", compared in commit order: the transaction id, then the position. */
function commitOrder(a: string, b: string): number {
  const [ax, ap] = a.split(":").map(BigInt) as [bigint, bigint];
  const [bx, bp] = b.split(":").map(BigInt) as [bigint, bigint];
  return ax !== bx ? (ax < bx ? -1 : 1) : ap === bp ? 0 : ap < bp ? -1 : 1;
}

/** What an auditor runs: every signature, then every seal's chain over the events after the previous seal up to its own end. */
function auditorVerifies(seals: Seal[], publicKeyPems: string | string[], events: { hash: string; commitPosition: string }[]): string | null {
  // Each seal names its key: the first 16 hex digits of SHA-256 of the key's SPKI DER.
  const keys = new Map(
    [publicKeyPems].flat().map((pem) => {
      const key = createPublicKey(pem);
      return [createHash("sha256").update(key.export({ type: "spki", format: "der" })).digest("hex").slice(0, 16), key] as const;
    }),
  );
  const ordered = [...events].sort((a, b) => commitOrder(a.commitPosition, b.commitPosition));
  let previous = "0".repeat(64);
  for (const seal of seals) {
    const key = keys.get(seal.keyId);
    if (!key) return `seal ${seal.seq}: signed by key ${seal.keyId}, which was not given`;
    if (!verify(null, Buffer.from(seal.signedText), key, Buffer.from(seal.signature, "base64"))) return `seal ${seal.seq}: bad signature`;
    if (!seal.signedText.endsWith(`chain=${seal.chainHash}`)) return `seal ${seal.seq}: text and chain differ`;
    const run = ordered.filter(
      (e) => (seal.from === null || commitOrder(e.commitPosition, seal.from) > 0) && commitOrder(e.commitPosition, seal.to) <= 0,
    );
    if (run.length !== seal.eventCount) return `seal ${seal.seq}: ${run.length} events, sealed ${seal.eventCount}`;
    const chain = createHash("sha256").update(previous + run.map((e) => e.hash).join("")).digest("hex");
    if (chain !== seal.chainHash) return `seal ${seal.seq}: the events' hashes do not chain to the sealed value`;
    previous = chain;
  }
  return null;
}

let db: Database;
beforeAll(async () => {
  db = await openTestDatabase("embedded");
});
afterAll(async () => {
  await db?.close();
});

describe("an auditor verifies an extract without our code [embedded]", () => {
  it("every seal's signature and chain check out over the exported hashes; a changed hash does not", async () => {
    const clinician = callerFor(db, ["clinician"]);
    for (let i = 0; i < 3; i++) {
      const { patientId } = await clinician.patient.register(newPatient());
      await clinician.patient.updateDemographics({ patientId, expectedVersion: 1, changes: { phone: `+1 555 01${i}0` }, reason: "new number" });
    }
    const { privateKey } = generateKeyPairSync("ed25519");
    const officer = testUser(["compliance"]);
    await sealLog(contextFor(db, officer).store, privateKey, { perSeal: 4 });
    const started = await startExport({ ...contextFor(db, officer), user: officer }, { view: "events", format: "ndjson" }, { publicKey: publicKeyPem(privateKey) });
    let text = "";
    for await (const chunk of started.chunks) text += chunk;
    const [header, ...rows] = text.trimEnd().split("\n").map((l) => JSON.parse(l) as Line);
    const seals = header!.seals!;
    expect(seals.length).toBeGreaterThan(1);
    const events = rows.filter((r) => r.rowType === "event").map((r) => ({ hash: r.hash!, commitPosition: r.commitPosition! }));

    expect(auditorVerifies(seals, header!.publicKey!, events)).toBeNull();
    // One changed hash, one dropped event, a forged signature: each is caught.
    const changed = events.map((e, i) => (i === 2 ? { ...e, hash: e.hash.replace(/^./, (c) => (c === "0" ? "1" : "0")) } : e));
    expect(auditorVerifies(seals, header!.publicKey!, changed)).toMatch(/do not chain/);
    expect(auditorVerifies(seals, header!.publicKey!, events.slice(1))).toMatch(/events, sealed/);
    const forged = seals.map((s, i) => (i === 0 ? { ...s, signedText: s.signedText.replace("count=", "count=1") } : s));
    expect(auditorVerifies(forged, header!.publicKey!, events)).toMatch(/bad signature/);
  });

  it("across a key rotation: the extract names the earlier public keys, and the seals each verify with the key they name", async () => {
    // A log of its own: every seal in it is signed by one of this test's two keys.
    const own = await openTestDatabase("embedded");
    onTestFinished(() => own.close());
    const clinician = callerFor(own, ["clinician"]);
    const officer = testUser(["compliance"]);
    const store = contextFor(own, officer).store;
    const before = generateKeyPairSync("ed25519").privateKey;
    const after = generateKeyPairSync("ed25519").privateKey;
    await clinician.patient.register(newPatient());
    await sealLog(store, before, { perSeal: 2 });
    await clinician.patient.register(newPatient());
    await sealLog(store, after, { perSeal: 2 });
    const earlier = [{ keyId: keyIdOf(createPublicKey(before)), publicKey: publicKeyPem(before) }];
    const started = await startExport({ ...contextFor(own, officer), user: officer }, { view: "events", format: "ndjson" }, { signingKey: after, earlierPublicKeys: earlier });
    let text = "";
    for await (const chunk of started.chunks) text += chunk;
    const [header, ...rows] = text.trimEnd().split("\n").map((l) => JSON.parse(l) as Line);
    const seals = header!.seals!;
    const events = rows.filter((r) => r.rowType === "event").map((r) => ({ hash: r.hash!, commitPosition: r.commitPosition! }));
    expect(new Set(seals.map((s) => s.keyId))).toEqual(new Set([earlier[0]!.keyId, keyIdOf(createPublicKey(after))]));
    expect(header!.earlierPublicKeys).toEqual(earlier);
    // The current key alone leaves the seals from before the rotation unverified; with the earlier one, all verify.
    expect(auditorVerifies(seals, header!.publicKey!, events)).toMatch(/which was not given/);
    expect(auditorVerifies(seals, [header!.publicKey!, ...header!.earlierPublicKeys!.map((k) => k.publicKey)], events)).toBeNull();
  });
});

describe("every extract is signed over its exact bytes; a change to any of them is caught [embedded]", () => {
  const sha = (bytes: string) => createHash("sha256").update(bytes).digest("hex");
  /** The extract split into what comes before its rows, its rows, and what follows them (trailer included). */
  function split(format: ExportFormat, text: string): { head: string; rows: string[]; tail: string } {
    if (format === "ndjson") {
      const lines = text.split(/(?<=\n)/);
      return { head: lines[0]!, rows: lines.slice(1, -1), tail: lines.at(-1)! };
    }
    if (format === "csv") {
      // The test's rows hold no line break inside a cell.
      const records = text.split(/(?<=\r\n)/);
      return { head: records[0]!, rows: records.slice(1, -2), tail: records.slice(-2).join("") };
    }
    const open = text.indexOf('"entry":[') + '"entry":['.length;
    const close = text.lastIndexOf(`]${fhirSignatureMember}`);
    const entries = (JSON.parse(text.slice(open - 1, close + 1)) as unknown[]).map((e) => JSON.stringify(e));
    return { head: text.slice(0, open), rows: entries.map((e, i) => (i === 0 ? e : `,${e}`)), tail: text.slice(close) };
  }
  const join = (format: ExportFormat, head: string, rows: string[], tail: string) =>
    head + (format === "fhir" ? rows.map((r) => r.replace(/^,/, "")).join(",") : rows.join("")) + tail;

  it.each(exportFormats)("%s: an untouched extract verifies; a changed byte, swapped rows, a spliced row, an edited trailer or another key's signature do not", async (format) => {
    const clinician = callerFor(db, ["clinician"]);
    const patients: string[] = [];
    for (let i = 0; i < 2; i++) {
      const { patientId } = await clinician.patient.register(newPatient());
      await clinician.encounter.start({ patientId, encounterType: "outpatient", reason: "Check-up" });
      patients.push(patientId);
    }
    const { privateKey } = generateKeyPairSync("ed25519");
    const published = [createPublicKey(privateKey)];
    const officer = testUser(["compliance"]);
    const extract = async (patientId: string) => {
      const started = await startExport({ ...contextFor(db, officer), user: officer }, { view: "timeline", format, patientId }, { signingKey: privateKey });
      let text = "";
      for await (const chunk of started.chunks) text += chunk;
      return { text, exportId: started.exportId };
    };
    const { text, exportId } = await extract(patients[0]!);
    const check = (t: string) => verifyExtract(Buffer.from(t), published);
    expect(check(text)).toMatchObject({ ok: true, format, exportId, rows: 2, keyId: keyIdOf(privateKey) });

    const { head, rows, tail } = split(format, text);
    expect(join(format, head, rows, tail)).toBe(text);
    const problem = (t: string) => {
      const result = check(t);
      return result.ok ? "verified" : result.problem;
    };
    // One byte of a payload, two rows swapped: the bytes no longer hash to the signed sha256.
    const changed = text.replace("Check-up", "Check-uq");
    expect(problem(changed)).toMatch(/hash to .*a row was changed/);
    expect(problem(join(format, head, [rows[1]!, rows[0]!], tail))).toMatch(/a row was changed, added, removed or moved/);
    // A row of another patient's extract spliced in, then the count fixed: the trailer no longer verifies.
    const other = split(format, (await extract(patients[1]!)).text);
    const spliced = join(format, head, [...rows, format === "fhir" ? `,${other.rows[0]!}` : other.rows[0]!], tail);
    expect(problem(spliced)).toMatch(/a row was changed, added, removed or moved/);
    const recounted = spliced.replace(/rows(""|"|\\"):2/g, "rows$1:3").replace(/(audit-signature,(?:[^,]*,){11})2,/, "$13,");
    expect(problem(recounted)).toMatch(/trailer's signature does not verify/);
    // A changed byte with the trailer's sha256 rewritten to match: the signature says no.
    const trailerAt = (t: string) =>
      format === "ndjson" ? t.lastIndexOf("\n", t.length - 2) + 1 : format === "csv" ? t.lastIndexOf("\r\naudit-signature,") + 2 : t.lastIndexOf(fhirSignatureMember);
    const signedSha = /sha256\W+([0-9a-f]{64})/.exec(text)![1]!;
    expect(problem(changed.replaceAll(signedSha, sha(changed.slice(0, trailerAt(changed)))))).toMatch(/trailer's signature does not verify/);
    // Signed again by another key: not the published one.
    const otherKey = generateKeyPairSync("ed25519").privateKey;
    const statement = extractStatement({ exportId, view: "timeline", format, rows: 2, sha256: signedSha });
    const signature = /signature\W+([A-Za-z0-9+/]{86}==)/.exec(text)![1]!;
    const resigned = text.replaceAll(signature, sign(null, Buffer.from(statement), otherKey).toString("base64")).replaceAll(keyIdOf(privateKey), keyIdOf(otherKey));
    expect(problem(resigned)).toBe(`the extract is signed with key ${keyIdOf(otherKey)}, not the published key ${keyIdOf(privateKey)}`);
    // Cut short before its trailer.
    expect(problem(text.slice(0, trailerAt(text)))).toMatch(/no signature trailer|does not parse/);
  });
});

describe("an extract is verified a piece at a time", () => {
  const row = (i: number): AuditRow => ({
    rowType: "event",
    id: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
    at: new Date(i * 1000),
    occurredAt: null,
    action: "U",
    what: "PatientDemographicsUpdated",
    userId: "u",
    userName: 'A "quoted",\r\nname',
    patientId: null,
    patientName: null,
    mrn: null,
    record: "patient-1",
    version: i,
    correlationId: null,
    causationId: null,
    reason: "new number",
    review: null,
    details: JSON.stringify({ phone: `+1 555 ${i}` }),
    hash: null,
    commitPosition: null,
  });
  async function* pages() {
    for (let p = 0; p < 6; p++) yield Array.from({ length: 500 }, (_, i) => row(p * 500 + i));
  }
  const header = { exportId: "00000000-0000-4000-8000-00000000000e", view: "events" as const, filter: {}, exportedBy: { id: "u", name: "U" }, exportedAt: "1970-01-01T00:00:00.000Z", seal: null, publicKey: null };

  // A small hold-back (the trailer still fits) so that rows and entries straddle many of the pieces hashed.
  it.each(exportFormats)("%s: 3,000 rows fed in pieces of 999 bytes verify; one byte changed in the middle does not", async (format) => {
    const { privateKey } = generateKeyPairSync("ed25519");
    let text = "";
    for await (const chunk of exportChunks(pages(), format, header, { key: privateKey })) text += chunk;
    const inPieces = (bytes: Buffer) => {
      const verifier = extractVerifier([createPublicKey(privateKey)], 4096);
      for (let at = 0; at < bytes.length; at += 999) verifier.update(bytes.subarray(at, at + 999));
      return verifier.finish();
    };
    const bytes = Buffer.from(text);
    expect(bytes.length).toBeGreaterThan(500_000);
    expect(inPieces(bytes)).toMatchObject({ ok: true, rows: 3000 });
    const changed = Buffer.from(bytes);
    const at = changed.indexOf("+1 555 1500");
    changed[at + 7] = "9".charCodeAt(0);
    expect(inPieces(changed)).toMatchObject({ ok: false, problem: expect.stringMatching(/a row was changed/) as unknown });
  });
});
