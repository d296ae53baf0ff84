// npm run audit:verify after a rotation of the signing key: each seal verifies with the key that
// signed it, given as --public-key (more than once) or in AUDIT_VERIFY_PUBLIC_KEYS.
import { spawnSync } from "node:child_process";
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { urlAsUser } from "../db/roles";
import { appendToStream, keyIdOf, sealLog } from "../eventStore";
import { openFreshPostgresDatabase, pgUrl } from "../testing/db";
import { newStreamId, note, storeOf } from "../testing/events";
import { parseAuditVerifyArgs } from "./auditVerify";

const tsx = join(process.cwd(), "node_modules", ".bin", "tsx");
const dir = mkdtempSync(join(tmpdir(), "emr-audit-verify-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("audit:verify arguments", () => {
  it("keeps every --public-key, --witness and --extract, takes --accept-restore only with a reason, and refuses what it does not know", () => {
    expect(parseAuditVerifyArgs(["--public-key", "old.pem", "--public-key", "new.pem", "--witness", "w.json", "--extract", "x.ndjson", "--json"])).toEqual({
      publicKeys: ["old.pem", "new.pem"],
      witnesses: ["w.json"],
      extracts: ["x.ndjson"],
      seal: false,
      json: true,
    });
    expect(() => parseAuditVerifyArgs(["--public-key"])).toThrow(/--public-key needs a file/);
    expect(() => parseAuditVerifyArgs(["--public-keys", "a.pem"])).toThrow(/unknown argument --public-keys/);
    expect(parseAuditVerifyArgs(["--accept-restore", "--reason", "restored the backup of 2026-11-30"]).acceptRestore).toEqual({ reason: "restored the backup of 2026-11-30" });
    expect(() => parseAuditVerifyArgs(["--accept-restore"])).toThrow(/--accept-restore and --reason go together/);
    expect(() => parseAuditVerifyArgs(["--accept-restore", "--reason", " "])).toThrow(/--reason must say what was restored/);
    expect(() => parseAuditVerifyArgs(["--accept-restore", "--reason", "x", "--seal"])).toThrow(/takes no --seal/);
  });
});

describe.skipIf(!pgUrl)("audit:verify across a key rotation [postgresql]", () => {
  let fresh: Awaited<ReturnType<typeof openFreshPostgresDatabase>>;
  const old = generateKeyPairSync("ed25519");
  const current = generateKeyPairSync("ed25519");
  const pemFile = (name: string, key: KeyObject) => {
    const file = join(dir, name);
    writeFileSync(file, key.export({ type: "spki", format: "pem" }));
    return file;
  };
  const run = (args: string[], extra: Record<string, string> = {}) => {
    const result = spawnSync(tsx, ["server/cli/auditVerify.ts", ...args], {
      encoding: "utf8",
      env: {
        ...process.env,
        DATABASE_URL: urlAsUser(fresh.ownerUrl, new URL(pgUrl!).username),
        NODE_ENV: "production",
        AUDIT_SIGNING_KEY: current.privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
        AUDIT_VERIFY_PUBLIC_KEYS: "",
        AUDIT_WITNESS_FILE: join(dir, "witness.json"),
        ...extra,
      },
      timeout: 60_000,
    });
    return { code: result.status, out: result.stdout + result.stderr };
  };

  beforeAll(async () => {
    fresh = await openFreshPostgresDatabase(2);
    const store = storeOf(fresh.db);
    const stream = newStreamId();
    await appendToStream(store, stream, [note(1), note(2)], { expectedVersion: "no_stream", aggregateType: "note" });
    await sealLog(store, old.privateKey);
    await appendToStream(store, stream, [note(3)], { expectedVersion: 2, aggregateType: "note" });
    await sealLog(store, current.privateKey);
  });
  afterAll(async () => fresh?.drop());

  it("verifies with both keys named, and without the old one names its key", () => {
    const both = run(["--public-key", pemFile("old.pem", old.publicKey), "--public-key", pemFile("new.pem", current.publicKey)]);
    expect(both.out).toContain("the log verifies");
    expect(both.out).toContain(`seals checked with keys ${keyIdOf(old.publicKey)}, ${keyIdOf(current.publicKey)} (--public-key)`);
    expect(both.code).toBe(0);
    const newOnly = run(["--public-key", pemFile("new.pem", current.publicKey)]);
    expect(newOnly.code).toBe(1);
    expect(newOnly.out).toContain(`NOT OK  seal 1 (start .. `);
    expect(newOnly.out).toContain(`signed with key ${keyIdOf(old.publicKey)}, which is not among the verifying keys`);
  });

  it("verifies with the signing key and the earlier one in AUDIT_VERIFY_PUBLIC_KEYS, as the console does", () => {
    expect(run([]).code).toBe(1);
    const configured = run([], { AUDIT_VERIFY_PUBLIC_KEYS: old.publicKey.export({ type: "spki", format: "pem" }).toString() });
    expect(configured.out).toContain("the log verifies");
    // Keys the server's settings gave, not the auditor: the output says so, with their ids to compare with the published key.
    expect(configured.out).toMatch(new RegExp(`seals checked with keys (${keyIdOf(current.publicKey)}|${keyIdOf(old.publicKey)}), .* \\(the server's AUDIT_SIGNING_KEY and AUDIT_VERIFY_PUBLIC_KEYS: compare them with the published key, or pass --public-key\\)`));
    expect(configured.code).toBe(0);
  });
});
