// An auditor checks an extract of the whole event log against the signed seals with nothing but
// the extract and standard crypto (README, "Verifying an extract"): each seal's signature over its
// text with the published key, and each seal's chain over the exported events' hashes in commit
// order. On an embedded database of its own, so the whole log is this test's.
import { createHash, createPublicKey, generateKeyPairSync, verify } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "../db/client";
import { sealLog } from "../eventStore";
import { callerFor, contextFor, newPatient, testUser } from "../testing/caller";
import { openTestDatabase } from "../testing/db";
import { startExport } from "./export";
import { publicKeyPem } from "./signingKey";

type Seal = { seq: number; from: string | null; to: string; eventCount: number; chainHash: string; signature: string; signedText: string };
type Line = { rowType: string; hash?: string | null; commitPosition?: string | null; seals?: Seal[]; publicKey?: string };

/** "xid:position", compared in commit order: the transaction id, then the position. */
function commitOrder(a: string, b: string): number {
  const [ax, ap] = a.split(":").map(BigInt) as [bigint, bigint];
  const [bx, bp] = b.split(":").map(BigInt) as [bigint, bigint];
  return ax !== bx ? (ax < bx ? -1 : 1) : ap === bp ? 0 : ap < bp ? -1 : 1;
}

/** What an auditor runs: every signature, then every seal's chain over the events after the previous seal up to its own end. */
function auditorVerifies(seals: Seal[], publicKeyPemText: string, events: { hash: string; commitPosition: string }[]): string | null {
  const key = createPublicKey(publicKeyPemText);
  const ordered = [...events].sort((a, b) => commitOrder(a.commitPosition, b.commitPosition));
  let previous = "0".repeat(64);
  for (const seal of seals) {
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

describe("an auditor verifies an extract without our code [embedded]", () => {
  let db: Database;
  beforeAll(async () => {
    db = await openTestDatabase("embedded");
  });
  afterAll(async () => {
    await db?.close();
  });

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
});
