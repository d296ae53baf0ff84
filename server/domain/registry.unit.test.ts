import { describe, expect, it } from "vitest";
import { eventCategories, eventRegistry, groupEventTypes } from "./registry";

describe("event categories", () => {
  it("puts every registered event type in exactly one named group (a new type needs one)", () => {
    const registered = eventRegistry.types();
    const filed = eventCategories.flatMap((c) => c.types);
    expect(new Set(filed).size).toBe(filed.length);
    expect([...filed].sort()).toEqual([...registered].sort());
    expect(groupEventTypes(registered).map((g) => g.category)).not.toContain("other");
  });

  it("files the safety facts under Safety, not under Other or a record's plain changes", () => {
    const safety = groupEventTypes(eventRegistry.types()).find((g) => g.category === "safety");
    expect(safety?.types).toEqual(
      expect.arrayContaining([
        "AllergyRecorded",
        "NoKnownAllergiesRecorded",
        "AllergyRefuted",
        "AllergyResolved",
        "MedicationAllergyOverridden",
        "AlertRecorded",
        "AlertResolved",
        "CriticalResultFlagged",
      ]),
    );
  });

  it("keeps a type no group names, last, under Other", () => {
    const groups = groupEventTypes(["PatientRegistered", "SomethingNew"]);
    expect(groups).toEqual([
      { category: "patient", label: "Patient", types: ["PatientRegistered"] },
      { category: "other", label: "Other", types: ["SomethingNew"] },
    ]);
  });
});
