import { describe, expect, it } from "vitest";
import { counted, resultSummary, waitMessage } from "./format";

describe("resultSummary", () => {
  it("writes flags out in words, on named values and on the whole result", () => {
    expect(resultSummary({ "K+": { value: 6.9, unit: "mmol/L", flag: "AA" }, report: "called to ward" })).toBe(
      "K+ 6.9 mmol/L (critical abnormal); report: called to ward",
    );
    expect(resultSummary({ value: 5.4, unit: "mmol/L", flag: "H" })).toBe("5.4 mmol/L (high)");
    expect(resultSummary({ Hb: { value: 13.5, unit: "g/dL" } })).toBe("Hb 13.5 g/dL");
    expect(resultSummary({ impression: "No acute findings" })).toBe("impression No acute findings");
  });
});

describe("counted", () => {
  it("gives the noun in the number's form", () => {
    expect(counted(1, "seal")).toBe("1 seal");
    expect(counted(0, "seal")).toBe("0 seals");
    expect(counted(1234, "event")).toBe("1,234 events");
    expect(counted(2, "entry", "entries")).toBe("2 entries");
  });
});

describe("waitMessage", () => {
  it("says how long a refused sign-in waits, in seconds up to a minute and a half, then in minutes", () => {
    expect(waitMessage(1, "Too many failed sign-ins.")).toBe("Too many failed sign-ins. Try again in 1 second.");
    expect(waitMessage(42.2, "Too many failed sign-ins.")).toBe("Too many failed sign-ins. Try again in 43 seconds.");
    expect(waitMessage(14 * 60 + 5, "Too many failed sign-ins.")).toBe("Too many failed sign-ins. Try again in 15 minutes.");
  });

  it("says nothing it was not told", () => {
    for (const none of [undefined, null, 0, -3, Number.NaN, "60"]) expect(waitMessage(none, "x")).toBeNull();
  });
});
