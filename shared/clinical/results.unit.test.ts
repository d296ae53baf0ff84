import { describe, expect, it } from "vitest";
import { criticalFindings } from "./results";

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
