import { describe, expect, it } from "vitest";
import { chosenType, snapshotTypes } from "./snapshotFigures";

const groups = [
  { aggregateType: "encounter", used: true, snapshots: 4, bytes: 4000 },
  { aggregateType: "patient", used: true, snapshots: 10, bytes: 9000 },
  { aggregateType: "patient", used: false, snapshots: 3, bytes: 2500 },
];
const foldedWith = [
  { aggregateType: "patient", stateVersion: 2 },
  { aggregateType: "encounter", stateVersion: 2 },
];

describe("snapshotTypes", () => {
  it("sums each type's groups, the ones this build does not use apart", () => {
    expect(snapshotTypes(groups, foldedWith)).toEqual([
      { aggregateType: "encounter", stale: 0, staleBytes: 0, total: 4, foldedWith: 2 },
      { aggregateType: "patient", stale: 3, staleBytes: 2500, total: 13, foldedWith: 2 },
    ]);
    expect(snapshotTypes([{ aggregateType: "retired", used: false, snapshots: 1, bytes: 10 }], foldedWith)[0]?.foldedWith).toBeNull();
  });
});

describe("chosenType", () => {
  it("is the type the admin chose, and nothing once its snapshots are gone: never another type in its place", () => {
    const before = snapshotTypes(groups, foldedWith);
    expect(chosenType(before, "patient")?.total).toBe(13);
    // Another admin discarded every patient snapshot; the figures came again while the form was open.
    const after = snapshotTypes(groups.filter((g) => g.aggregateType !== "patient"), foldedWith);
    expect(chosenType(after, "patient")).toBeNull();
  });
});
