import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { EnvError } from "../db/env";
import { resolveAuthSecret } from "./config";

const dir = mkdtempSync(join(tmpdir(), "emr-auth-secret-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("the session-signing secret", () => {
  it("is BETTER_AUTH_SECRET when set", () => {
    const secret = "s".repeat(40);
    expect(resolveAuthSecret({ NODE_ENV: "production", BETTER_AUTH_SECRET: secret }, join(dir, "unused"))).toBe(secret);
  });

  it("in production, never the development file, even when an earlier start left one", () => {
    const file = join(dir, "old-secret");
    writeFileSync(file, "d".repeat(43));
    expect(() => resolveAuthSecret({ NODE_ENV: "production", BETTER_AUTH_SECRET: undefined }, file)).toThrow(EnvError);
    expect(() => resolveAuthSecret({ NODE_ENV: "production", BETTER_AUTH_SECRET: undefined }, file)).toThrow(/BETTER_AUTH_SECRET: required/);
  });

  it("in development, made once (mode 600) and then reused", () => {
    const file = join(dir, "nested", "auth-secret");
    const first = resolveAuthSecret({ NODE_ENV: "development", BETTER_AUTH_SECRET: undefined }, file);
    expect(first.length).toBeGreaterThanOrEqual(32);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(resolveAuthSecret({ NODE_ENV: "development", BETTER_AUTH_SECRET: undefined }, file)).toBe(first);
    expect(readFileSync(file, "utf8")).toBe(first);
  });
});
