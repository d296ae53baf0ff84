import { describe, expect, it } from "vitest";
import { criticalFindings, flagText, resultSeverity } from "./results";

describe("criticalFindings", () => {
  it("finds HL7 critical flags on the whole result and on named values", () => {
    expect(criticalFindings({ value: 6.9, unit: "mmol/L", flag: "HH" })).toEqual([{ name: "result", value: 6.9, unit: "mmol/L", flag: "HH" }]);
    expect(
      criticalFindings({
        Potassium: { value: 2.1, unit: "mmol/L", flag: "ll" },
        Sodium: { value: 140, unit: "mmol/L", flag: "N" },
        Troponin: { value: "positive", flag: "AA" },
        report: "Called to ward",
      }),
    ).toEqual([
      { name: "Potassium", value: 2.1, unit: "mmol/L", flag: "LL" },
      { name: "Troponin", value: "positive", unit: null, flag: "AA" },
    ]);
  });

  it("finds nothing in normal or merely abnormal results, or none", () => {
    expect(criticalFindings({ value: 5.4, unit: "mmol/L", flag: "H" })).toEqual([]);
    expect(criticalFindings({ Hb: { value: 13.5, unit: "g/dL" }, flag: 3 })).toEqual([]);
    expect(criticalFindings({ impression: "No acute findings" })).toEqual([]);
    expect(criticalFindings(null)).toEqual([]);
  });
});

describe("resultSeverity and flagText", () => {
  it("rates a result by its worst flag, on the whole result or a named value", () => {
    expect(resultSeverity({ "K+": { value: 6.9, unit: "mmol/L", flag: "AA" }, Na: { value: 140, flag: "N" } })).toBe("critical");
    expect(resultSeverity({ value: 2.1, unit: "mmol/L", flag: "ll" })).toBe("critical");
    expect(resultSeverity({ Hb: { value: 11, unit: "g/dL", flag: "L" }, report: "mild" })).toBe("abnormal");
    expect(resultSeverity({ Hb: { value: 13.5, unit: "g/dL" }, report: "normal" })).toBe("normal");
    expect(resultSeverity({ Hb: { value: 13.5, flag: "N" } })).toBe("normal");
    expect(resultSeverity(null)).toBe("normal");
  });

  it("writes flags in the status form's words, and leaves unknown ones as sent", () => {
    expect(flagText("AA")).toBe("critical abnormal");
    expect(flagText("hh")).toBe("critical high");
    expect(flagText("L")).toBe("low");
    expect(flagText("N")).toBe("normal");
    expect(flagText("W")).toBe("W");
  });
});
