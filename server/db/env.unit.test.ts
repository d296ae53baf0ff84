import { describe, expect, it } from "vitest";
import { EnvError, parseEnv } from "./env";

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
    expect(parseEnv({ NODE_ENV: "production", BETTER_AUTH_SECRET: "s".repeat(32) }).NODE_ENV).toBe("production");
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
