import { describe, expect, it } from "vitest";
import { BACKOFF_BASE_MS, BACKOFF_CAP_MS, BACKOFF_GROWTH, backoffMs, errorSummary } from "./outbox";

describe("backoffMs (exponential, equal jitter)", () => {
  it("waits half to all of base * growth^(attempt-1), capped at 5 minutes", () => {
    expect(backoffMs(1, () => 0)).toBe(BACKOFF_BASE_MS / 2);
    expect(backoffMs(1, () => 0.999_999)).toBe(BACKOFF_BASE_MS - 1);
    expect(backoffMs(3, () => 0.5)).toBe(0.75 * BACKOFF_BASE_MS * BACKOFF_GROWTH ** 2);
    expect(backoffMs(30, () => 0.999_999)).toBeLessThan(BACKOFF_CAP_MS);
    expect(backoffMs(30, () => 0)).toBe(BACKOFF_CAP_MS / 2);
  });

  it("gives the five tries before a dead letter at least 85 s and at most 170 s", () => {
    const total = (random: () => number) => [1, 2, 3, 4].reduce((sum, attempt) => sum + backoffMs(attempt, random), 0);
    expect(total(() => 0)).toBe(85_000);
    expect(total(() => 0.999_999)).toBeLessThan(170_000);
    expect(total(() => 0.999_999)).toBeGreaterThan(169_000);
  });

  it("spreads over the upper half of the window", () => {
    const samples = Array.from({ length: 2_000 }, () => backoffMs(2));
    expect(Math.min(...samples)).toBeGreaterThanOrEqual(4_000);
    expect(Math.min(...samples)).toBeLessThan(4_500);
    expect(Math.max(...samples)).toBeGreaterThan(7_500);
    expect(Math.max(...samples)).toBeLessThan(8_000);
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
