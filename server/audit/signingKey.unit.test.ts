// The key npm start hands the server it spawns (which runs as production and reads no
// development files): without it the console would never seal the log.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createPublicKey, generateKeyPairSync } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { parseSigningKey, signingKeyTextFor } from "./signingKey";

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

  it("the setting when there is one, and nothing in production without one (nothing made there)", () => {
    const pem = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    const given = signingKeyTextFor({ NODE_ENV: "production", AUDIT_SIGNING_KEY: pem }, join(dir, "unused.pem"));
    expect(createPublicKey(parseSigningKey(given!)).export({ type: "spki", format: "pem" })).toEqual(
      createPublicKey(pem).export({ type: "spki", format: "pem" }),
    );
    expect(signingKeyTextFor({ NODE_ENV: "production", AUDIT_SIGNING_KEY: undefined }, join(dir, "none.pem"))).toBeNull();
  });
});
