import { generateKeyPairSync, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { EnvError, parseEnv } from "./env";
import { parseSigningKey } from "../audit/signingKey";
import { resolveMasterKeyText } from "./phiKey";

const phiKey = randomBytes(32).toString("base64");

describe("environment", () => {
  it("defaults to the embedded database and the seed's snapshot interval", () => {
    const e = parseEnv({});
    expect(e.DATABASE_URL).toBeUndefined();
    expect(e.PGLITE_DIR).toBe(".data/pglite");
    expect(e.EVENTSTORE_SNAPSHOT_EVERY).toBe(50);
    expect(e.OUTBOX_WORKER).toBe("off");
  });

  it("treats an empty DATABASE_URL as unset", () => {
    expect(parseEnv({ DATABASE_URL: "  " }).DATABASE_URL).toBeUndefined();
  });

  it("stops start-up with a message naming each bad setting", () => {
    let error: unknown;
    try {
      parseEnv({ DATABASE_URL: "mysql://db/emr", EVENTSTORE_SNAPSHOT_EVERY: "0", OUTBOX_WORKER: "sometimes" });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(EnvError);
    const message = (error as Error).message;
    expect(message).toContain("Invalid configuration");
    expect(message).toContain("DATABASE_URL: must be a postgresql:// connection URL");
    expect(message).toContain("EVENTSTORE_SNAPSHOT_EVERY");
    expect(message).toContain("OUTBOX_WORKER");
  });

  it("checks PORT like every other setting", () => {
    expect(parseEnv({}).PORT).toBe(3000);
    expect(parseEnv({ PORT: "3303" }).PORT).toBe(3303);
    for (const bad of ["abc", "0", "65536", "80.5", "-1"]) {
      expect(() => parseEnv({ PORT: bad }), bad).toThrow(/PORT: must be a port number \(1-65535\)/);
    }
  });

  it("bounds the server's drain on SIGTERM (SHUTDOWN_DRAIN_SECONDS): 20 s unless set, 1 to 3600", () => {
    expect(parseEnv({}).SHUTDOWN_DRAIN_SECONDS).toBe(20);
    expect(parseEnv({ SHUTDOWN_DRAIN_SECONDS: " 45 " }).SHUTDOWN_DRAIN_SECONDS).toBe(45);
    for (const bad of ["0", "3601", "2.5", "1e2", "soon"]) {
      expect(() => parseEnv({ SHUTDOWN_DRAIN_SECONDS: bad }), bad).toThrow(/SHUTDOWN_DRAIN_SECONDS/);
    }
  });

  it("takes whole numbers in plain decimal digits only: no hex, exponent or fraction; blank is unset", () => {
    expect(parseEnv({ DB_POOL_MAX: "16" }).DB_POOL_MAX).toBe(16);
    expect(parseEnv({ DB_POOL_MAX: " 7 " }).DB_POOL_MAX).toBe(7);
    expect(parseEnv({ DB_POOL_MAX: "" }).DB_POOL_MAX).toBe(10);
    expect(parseEnv({ DEMO_PATIENTS: "  " }).DEMO_PATIENTS).toBe(200);
    for (const bad of ["0x10", "1e1", "1.0", "+5", "0b11", "Infinity", "ten"]) {
      expect(() => parseEnv({ DB_POOL_MAX: bad }), bad).toThrow(/DB_POOL_MAX: must be a whole number in decimal digits/);
    }
    for (const bad of ["3e3", "0xBB8", "3000.0"]) {
      expect(() => parseEnv({ PORT: bad }), bad).toThrow(/PORT: must be a port number/);
    }
  });

  it("refuses a blank PGLITE_DIR and trims one with spaces around it", () => {
    expect(() => parseEnv({ PGLITE_DIR: "   " })).toThrow(/PGLITE_DIR: must name a folder/);
    expect(parseEnv({ PGLITE_DIR: " /var/lib/emr/pglite " }).PGLITE_DIR).toBe("/var/lib/emr/pglite");
  });

  it("refuses SEED_DEMO_USERS=true in production (an admin with a published password) unless acknowledged", () => {
    const prod = { NODE_ENV: "production", BETTER_AUTH_SECRET: "s".repeat(32), PHI_MASTER_KEY: phiKey };
    expect(() => parseEnv({ ...prod, SEED_DEMO_USERS: "true" })).toThrow(/SEED_DEMO_USERS: true is refused when NODE_ENV=production/);
    expect(() => parseEnv({ ...prod, SEED_DEMO_USERS: "true", SEED_DEMO_USERS_IN_PRODUCTION: "false" })).toThrow(/SEED_DEMO_USERS/);
    expect(parseEnv({ ...prod, SEED_DEMO_USERS: "true", SEED_DEMO_USERS_IN_PRODUCTION: "true" }).SEED_DEMO_USERS).toBe("true");
    expect(parseEnv({ ...prod, SEED_DEMO_USERS: "false" }).SEED_DEMO_USERS).toBe("false");
    expect(parseEnv({ NODE_ENV: "development", SEED_DEMO_USERS: "true" }).SEED_DEMO_USERS).toBe("true");
  });

  it("accepts AUDIT_SIGNING_KEY in exactly the forms the signer parses: PEM, escaped-newline PEM, base64 of the PEM", () => {
    const pem = generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    const keyBytes = (text: string) => parseSigningKey(text).export({ type: "pkcs8", format: "der" }).toString("hex");
    for (const form of [pem, pem.replace(/\n/g, "\\n"), Buffer.from(pem).toString("base64")]) {
      const parsed = parseEnv({ AUDIT_SIGNING_KEY: form }).AUDIT_SIGNING_KEY!;
      expect(keyBytes(parsed)).toBe(keyBytes(pem));
      expect(keyBytes(form)).toBe(keyBytes(pem));
    }
    const notAKey = Buffer.from("-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIP\n-----END PRIVATE KEY-----").toString("base64");
    expect(() => parseEnv({ AUDIT_SIGNING_KEY: notAKey })).toThrow(/AUDIT_SIGNING_KEY: must be an Ed25519 private key/);
    expect(() => parseSigningKey(notAKey)).toThrow(/AUDIT_SIGNING_KEY/);
  });

  it("requires BETTER_AUTH_SECRET when NODE_ENV=production, reported with the other problems", () => {
    expect(() => parseEnv({ NODE_ENV: "production" })).toThrow(/BETTER_AUTH_SECRET: required when NODE_ENV=production/);
    expect(() => parseEnv({ NODE_ENV: "production", BETTER_AUTH_SECRET: "   " })).toThrow(/BETTER_AUTH_SECRET: required/);
    expect(parseEnv({ NODE_ENV: "production", BETTER_AUTH_SECRET: "s".repeat(32), PHI_MASTER_KEY: phiKey }).NODE_ENV).toBe("production");
    expect(parseEnv({ NODE_ENV: "development" }).BETTER_AUTH_SECRET).toBeUndefined();
    let message = "";
    try {
      parseEnv({ NODE_ENV: "production", PORT: "abc" });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain("PORT: must be a port number");
    expect(message).toContain("BETTER_AUTH_SECRET: required when NODE_ENV=production");
  });

  it("requires a well-formed PHI_MASTER_KEY in production and names it; elsewhere a development key file is made, with a warning", () => {
    const production = { NODE_ENV: "production", BETTER_AUTH_SECRET: "s".repeat(32) };
    expect(() => parseEnv(production)).toThrow(/PHI_MASTER_KEY: required when NODE_ENV=production/);
    for (const bad of ["short", randomBytes(16).toString("base64"), randomBytes(32).toString("hex")]) {
      expect(() => parseEnv({ ...production, PHI_MASTER_KEY: bad }), bad).toThrow(/PHI_MASTER_KEY: must be 32 bytes in base64/);
    }
    expect(() => parseEnv({ PHI_MASTER_KEY_PREVIOUS: `${phiKey},nope` })).toThrow(/PHI_MASTER_KEY_PREVIOUS: must be comma-separated/);
    expect(parseEnv({ ...production, PHI_MASTER_KEY: phiKey }).PHI_MASTER_KEY).toBe(phiKey);
    expect(() => resolveMasterKeyText({ NODE_ENV: "production" })).toThrow(/PHI_MASTER_KEY: required/);
    const file = join(mkdtempSync(join(tmpdir(), "phi-")), "phi-master-key");
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const made = resolveMasterKeyText({ NODE_ENV: "development" }, file);
    expect(resolveMasterKeyText({ NODE_ENV: "development" }, file)).toBe(made);
    expect(readFileSync(file, "utf8").trim()).toBe(made);
    expect((statSync(file).mode & 0o777).toString(8)).toBe("600");
    warn.mockRestore();
  });

  it("reads the observability settings, with defaults, and refuses bad ones", () => {
    const e = parseEnv({});
    expect(e.METRICS_TOKEN).toBeUndefined();
    expect(e.WORKER_METRICS_PORT).toBe(9464);
    expect(e.OUTBOX_RETENTION_DAYS).toBe(7);
    expect(e.LOG_LEVEL).toBe("info");
    expect(parseEnv({ METRICS_TOKEN: "a".repeat(16), WORKER_METRICS_PORT: "0", OUTBOX_RETENTION_DAYS: "30" })).toMatchObject({
      METRICS_TOKEN: "a".repeat(16),
      WORKER_METRICS_PORT: 0,
      OUTBOX_RETENTION_DAYS: 30,
    });
    expect(() => parseEnv({ METRICS_TOKEN: "short" })).toThrow(/METRICS_TOKEN: must be at least 16 characters/);
    expect(() => parseEnv({ OUTBOX_RETENTION_DAYS: "0" })).toThrow(/OUTBOX_RETENTION_DAYS/);
    expect(() => parseEnv({ LOG_LEVEL: "loud" })).toThrow(/LOG_LEVEL/);
  });
});
