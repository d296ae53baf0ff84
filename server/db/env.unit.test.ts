import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { EnvError, parseEnv } from "./env";
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
