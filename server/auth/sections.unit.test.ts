import { describe, expect, it } from "vitest";
import { safeNext, sectionsFor } from "./sections";

describe("sections", () => {
  it("shows each role only its own sections", () => {
    expect(sectionsFor(null)).toEqual([]);
    expect(sectionsFor({ roles: [] })).toEqual([]);
    expect(sectionsFor({ roles: ["compliance"] }).map((s) => s.label)).toEqual(["Audit"]);
    expect(sectionsFor({ roles: ["admin", "clinician"] }).map((s) => s.label)).toEqual(["Clinical", "Admin"]);
  });
});

describe("safeNext", () => {
  it("keeps paths on this site and drops everything else", () => {
    expect(safeNext("/patients?q=1")).toBe("/patients?q=1");
    expect(safeNext(["/audit", "/admin"])).toBe("/audit");
    for (const bad of [undefined, "", "patients", "//evil.example", "/\\evil.example", "https://evil.example", "/a b", "javascript:alert(1)"]) {
      expect(safeNext(bad)).toBe("/");
    }
  });
});
