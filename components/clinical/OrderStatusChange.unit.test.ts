import { describe, expect, it } from "vitest";
import { criticalFindings } from "@/shared/clinical/results";
import { buildResultData } from "./OrderStatusChange";

describe("buildResultData", () => {
  it("keeps a value's unit and flag, and a critical flag is what the reaction reads", () => {
    const result = buildResultData(
      [
        { key: 0, name: "Potassium", value: "6.9", unit: "mmol/L", flag: "HH" },
        { key: 1, name: "Sodium", value: "140", unit: "mmol/L", flag: "" },
        { key: 2, name: "Culture", value: "no growth", unit: "", flag: "N" },
        { key: 3, name: "Glucose", value: "5.1", unit: "", flag: "" },
      ],
      "Phoned to ward",
    );
    expect(result).toEqual({
      Potassium: { value: 6.9, unit: "mmol/L", flag: "HH" },
      Sodium: { value: 140, unit: "mmol/L" },
      Culture: { value: "no growth", flag: "N" },
      Glucose: 5.1,
      report: "Phoned to ward",
    });
    expect(criticalFindings(result).map((f) => f.name)).toEqual(["Potassium"]);
  });
});
