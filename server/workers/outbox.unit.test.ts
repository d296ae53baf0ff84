import { describe, expect, it } from "vitest";
import { BACKOFF_BASE_MS, BACKOFF_CAP_MS, backoffMs, errorSummary } from "./outbox";

describe("backoffMs (exponential, full jitter)", () => {
  it("stays under base * 2^(attempt-1), capped at 5 minutes", () => {
    expect(backoffMs(1, () => 0.999_999)).toBe(BACKOFF_BASE_MS - 1);
    expect(backoffMs(3, () => 0.5)).toBe(2 * BACKOFF_BASE_MS);
    expect(backoffMs(30, () => 0.999_999)).toBeLessThan(BACKOFF_CAP_MS);
    expect(backoffMs(30, () => 0.999_999)).toBeGreaterThan(BACKOFF_CAP_MS - 1_000);
    expect(backoffMs(4, () => 0)).toBe(0);
  });

  it("spreads over the whole range (full jitter)", () => {
    const samples = Array.from({ length: 2_000 }, () => backoffMs(4));
    expect(Math.min(...samples)).toBeLessThan(1_000);
    expect(Math.max(...samples)).toBeGreaterThan(7_000);
    expect(Math.max(...samples)).toBeLessThan(8 * BACKOFF_BASE_MS);
  });
});

describe("errorSummary", () => {
  it("keeps the name, the code and a short first line", () => {
    const error = Object.assign(new TypeError(`bad thing\nsecond line with ${"x".repeat(50)}`), { code: "ECONNREFUSED" });
    expect(errorSummary(error)).toBe("TypeError [ECONNREFUSED]: bad thing");
    const pg = Object.assign(new Error("relation missing"), { code: "42P01" });
    expect(errorSummary(pg)).toBe("Error [42P01]: relation missing");
    expect(errorSummary(new Error("y".repeat(1_000))).length).toBeLessThanOrEqual(200);
    expect(errorSummary("a string")).toBe("string: a string");
  });
});
