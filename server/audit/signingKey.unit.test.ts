// The key npm start hands the server it spawns (which runs as production and reads no
// development files): without it the console would never seal the log. And the keys seals are
// verified with: after a rotation, the earlier public keys too.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { parseEnv } from "../db/env";
import { keyIdOf } from "../eventStore/integrity";
import { earlierPublicKeys, parsePublicKeys, parseSigningKey, signingKeyTextFor, verifyingKeys } from "./signingKey";

const dir = mkdtempSync(join(tmpdir(), "emr-signing-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the signing key npm start passes on", () => {
  it("outside production: the development key, made once and the same on every start", () => {
    const file = join(dir, "dev", "audit-signing-key.pem");
    const first = signingKeyTextFor({ NODE_ENV: "development", AUDIT_SIGNING_KEY: undefined }, file);
    const second = signingKeyTextFor({ NODE_ENV: "development", AUDIT_SIGNING_KEY: undefined }, file);
    expect(first).toContain("-----BEGIN PRIVATE KEY-----");
    expect(second).toBe(first);
    expect(parseSigningKey(first!).asymmetricKeyType).toBe("ed25519");
  });

  it("a development key file that is no key (left empty by a start killed while making it) is refused naming the file, not the setting", () => {
    const file = join(dir, "empty", "audit-signing-key.pem");
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, "");
    expect(() => signingKeyTextFor({ NODE_ENV: "development", AUDIT_SIGNING_KEY: undefined }, file)).toThrow(
      /AUDIT_SIGNING_KEY: not set, and the development key in .*empty\/audit-signing-key.pem is not an Ed25519 private key in PEM: it is empty .* delete it/,
    );
    writeFileSync(file, "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2Vw");
    expect(() => signingKeyTextFor({ NODE_ENV: "development", AUDIT_SIGNING_KEY: undefined }, file)).toThrow(/put back the key it held/);
  });

  it("the setting when there is one, and nothing in production without one (nothing made there)", () => {
    const pem = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    const given = signingKeyTextFor({ NODE_ENV: "production", AUDIT_SIGNING_KEY: pem }, join(dir, "unused.pem"));
    expect(createPublicKey(parseSigningKey(given!)).export({ type: "spki", format: "pem" })).toEqual(
      createPublicKey(pem).export({ type: "spki", format: "pem" }),
    );
    expect(signingKeyTextFor({ NODE_ENV: "production", AUDIT_SIGNING_KEY: undefined }, join(dir, "none.pem"))).toBeNull();
  });
});

describe("the public keys seals are verified with (a rotated key's seals still verify)", () => {
  const pemOf = (key: KeyObject) => key.export({ type: "spki", format: "pem" }).toString();
  const current = generateKeyPairSync("ed25519");
  const earlier = [generateKeyPairSync("ed25519").publicKey, generateKeyPairSync("ed25519").publicKey];
  const signingKey = current.privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  const ids = (keys: KeyObject[]) => keys.map(keyIdOf);

  it("the signing key's first, then AUDIT_VERIFY_PUBLIC_KEYS: PEMs one after another, newlines escaped, or base64 PEMs comma-separated", () => {
    const expected = ids([current.publicKey, ...earlier]);
    const forms = [
      earlier.map(pemOf).join(""),
      earlier.map(pemOf).join("\n").replace(/\n/g, "\\n"),
      earlier.map((k) => Buffer.from(pemOf(k)).toString("base64")).join(", "),
    ];
    for (const form of forms) {
      const e = parseEnv({ NODE_ENV: "production", AUDIT_SIGNING_KEY: signingKey, AUDIT_VERIFY_PUBLIC_KEYS: form, BETTER_AUTH_SECRET: "x".repeat(32), PHI_MASTER_KEY: randomBytes(32).toString("base64") });
      expect(ids(verifyingKeys(e))).toEqual(expected);
    }
    // The signing key's own public half named again is one key, not two.
    expect(ids(verifyingKeys({ NODE_ENV: "production", AUDIT_SIGNING_KEY: signingKey, AUDIT_VERIFY_PUBLIC_KEYS: pemOf(current.publicKey) }))).toEqual([keyIdOf(current.publicKey)]);
    // Earlier keys alone (a verifying server that no longer signs).
    expect(ids(verifyingKeys({ NODE_ENV: "production", AUDIT_SIGNING_KEY: undefined, AUDIT_VERIFY_PUBLIC_KEYS: pemOf(earlier[0]!) }))).toEqual([keyIdOf(earlier[0]!)]);
    // What the Integrity page and every extract name beside the current key: the earlier ones, with their ids.
    const named = earlierPublicKeys({ NODE_ENV: "production", AUDIT_SIGNING_KEY: signingKey, AUDIT_VERIFY_PUBLIC_KEYS: `${pemOf(current.publicKey)}${pemOf(earlier[0]!)}` });
    expect(named).toEqual([{ keyId: keyIdOf(earlier[0]!), publicKey: pemOf(earlier[0]!) }]);
    expect(earlierPublicKeys({ NODE_ENV: "production", AUDIT_SIGNING_KEY: signingKey, AUDIT_VERIFY_PUBLIC_KEYS: undefined })).toEqual([]);
  });

  it("refuses at start-up a list with anything but Ed25519 public keys, saying which", () => {
    const rsa = generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey;
    expect(() => parseEnv({ AUDIT_VERIFY_PUBLIC_KEYS: `${pemOf(earlier[0]!)}${pemOf(rsa)}` })).toThrow(
      /AUDIT_VERIFY_PUBLIC_KEYS: must be Ed25519 public keys .*key 2 of 2 is not an Ed25519 public key/,
    );
    expect(() => parseEnv({ AUDIT_VERIFY_PUBLIC_KEYS: "not a key" })).toThrow(/AUDIT_VERIFY_PUBLIC_KEYS: .*key 1 of 1/);
    expect(() => parsePublicKeys(pemOf(rsa), "--public-key old.pem")).toThrow(/--public-key old\.pem: key 1 of 1 is not an Ed25519 public key/);
  });
});
