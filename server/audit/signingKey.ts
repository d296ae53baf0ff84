// The key that signs the log's seals. It must not live in the database: whoever could rewrite
// events could then re-sign them. AUDIT_SIGNING_KEY holds an Ed25519 private key (PEM); outside
// production a key is made once and kept in .data/audit-signing-key.pem (mode 600), with a
// warning, so a demo seals too. Auditors verify with the public key alone.
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { makeDevFileOnce } from "../db/devFile";
import { EnvError, publicKeyPemsOf, publicKeysProblem, signingKeyPemOf, type Env } from "../db/env";
import { keyIdOf } from "../eventStore/integrity";

export const devSigningKeyFile = join(/*turbopackIgnore: true*/ process.cwd(), ".data", "audit-signing-key.pem");

/** Parses an Ed25519 private key in PEM; anything else is a configuration error naming the setting. */
export function parseSigningKey(pem: string): KeyObject {
  let key: KeyObject;
  try {
    // The same forms env.ts accepts, so a key that passes start-up is the key that signs.
    key = createPrivateKey(signingKeyPemOf(pem));
  } catch {
    throw new EnvError("Invalid configuration:\n  AUDIT_SIGNING_KEY: must be an Ed25519 private key in PEM (openssl genpkey -algorithm ed25519)");
  }
  if (key.asymmetricKeyType !== "ed25519") {
    throw new EnvError(`Invalid configuration:\n  AUDIT_SIGNING_KEY: must be an Ed25519 key, got ${key.asymmetricKeyType ?? "unknown"}`);
  }
  return key;
}

let warned = false;

/** The signing key, or null in production when none is configured (then nothing is sealed). */
export function resolveSigningKey(e: Pick<Env, "AUDIT_SIGNING_KEY" | "NODE_ENV">, file = devSigningKeyFile): KeyObject | null {
  if (e.AUDIT_SIGNING_KEY) return parseSigningKey(e.AUDIT_SIGNING_KEY);
  if (e.NODE_ENV === "production") return null;
  makeDevFileOnce(file, () => generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString());
  if (!warned) {
    warned = true;
    console.warn(`[audit] AUDIT_SIGNING_KEY is not set: sealing with the development key in ${file}`);
  }
  const text = readFileSync(/*turbopackIgnore: true*/ file, "utf8");
  try {
    return parseSigningKey(text);
  } catch {
    // Named for the file, not the setting the newcomer never set.
    throw new EnvError(
      `Invalid configuration:\n  AUDIT_SIGNING_KEY: not set, and the development key in ${file} is not an Ed25519 private key in PEM: ` +
        (text.trim() === ""
          ? "it is empty (a start stopped while making it, before it signed anything): delete it, and the next start makes a new one"
          : "put back the key it held (the log's seals verify only with its public key), or delete it to sign with a new one from now on"),
    );
  }
}

/**
 * AUDIT_SIGNING_KEY's text for a server process started by npm start: the setting, or outside
 * production the development key (made on first use). The server runs with NODE_ENV=production
 * and so would not read the development key itself, and without a key nothing is ever sealed.
 */
export function signingKeyTextFor(e: Pick<Env, "AUDIT_SIGNING_KEY" | "NODE_ENV">, file = devSigningKeyFile): string | null {
  if (e.AUDIT_SIGNING_KEY) return e.AUDIT_SIGNING_KEY;
  const key = resolveSigningKey(e, file);
  return key ? key.export({ type: "pkcs8", format: "pem" }).toString() : null;
}

/** The public half, as auditors receive it (SPKI PEM). */
export function publicKeyPem(key: KeyObject): string {
  return (key.type === "private" ? createPublicKey(key) : key).export({ type: "spki", format: "pem" }).toString();
}

/**
 * Ed25519 public keys from their text (PEM blocks, or base64 PEMs comma-separated); a key that is
 * not one is refused, naming where it came from.
 */
export function parsePublicKeys(text: string, source: string): KeyObject[] {
  const problem = publicKeysProblem(text);
  if (problem) throw new EnvError(`Invalid configuration:\n  ${source}: ${problem}`);
  return publicKeyPemsOf(text).map((pem) => createPublicKey(pem));
}

/** Each key once, the first kept: the same key named twice is one verifying key. */
export function distinctKeys(keys: readonly KeyObject[]): KeyObject[] {
  const byId = new Map<string, KeyObject>();
  for (const key of keys) if (!byId.has(keyIdOf(key))) byId.set(keyIdOf(key), key);
  return [...byId.values()];
}

/**
 * The public keys this server verifies seals with: the signing key's public half first (what an
 * extract carries), then AUDIT_VERIFY_PUBLIC_KEYS, the earlier keys whose seals must still
 * verify after a rotation. None when neither is configured.
 */
export function verifyingKeys(e: Pick<Env, "AUDIT_SIGNING_KEY" | "AUDIT_VERIFY_PUBLIC_KEYS" | "NODE_ENV">): KeyObject[] {
  const key = resolveSigningKey(e);
  const earlier = e.AUDIT_VERIFY_PUBLIC_KEYS ? parsePublicKeys(e.AUDIT_VERIFY_PUBLIC_KEYS, "AUDIT_VERIFY_PUBLIC_KEYS") : [];
  return distinctKeys([...(key ? [createPublicKey(key)] : []), ...earlier]);
}

/**
 * The public keys of earlier signing keys (AUDIT_VERIFY_PUBLIC_KEYS, without the current key), as
 * PEM with their key ids: seals signed before a rotation verify only with these, so the
 * Integrity page and every extract name them beside the current one.
 */
export function earlierPublicKeys(e: Pick<Env, "AUDIT_SIGNING_KEY" | "AUDIT_VERIFY_PUBLIC_KEYS" | "NODE_ENV">): { keyId: string; publicKey: string }[] {
  const current = resolveSigningKey(e);
  const currentId = current ? keyIdOf(createPublicKey(current)) : null;
  return verifyingKeys(e)
    .filter((key) => keyIdOf(key) !== currentId)
    .map((key) => ({ keyId: keyIdOf(key), publicKey: publicKeyPem(key) }));
}
