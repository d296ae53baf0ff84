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
});
