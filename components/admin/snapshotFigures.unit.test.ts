import { describe, expect, it } from "vitest";
import { backfillSummary, checkSummary, chosenType, snapshotTypes } from "./snapshotFigures";

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

describe("checkSummary", () => {
  const result = (checked: number, unopenable: number, mismatches = 0) => ({ checked, unopenable, mismatches: Array.from({ length: mismatches }, () => ({ streamId: "s", version: 1 })) });

  it("says every snapshot checked matches only when every one was compared", () => {
    expect(checkSummary([result(50, 0), result(12, 0)])).toEqual({ tone: "ok", text: "Every snapshot checked is what a fold of its events gives." });
  });

  it("does not call snapshots that could not be opened right: it counts them and says why they were not compared", () => {
    const summary = checkSummary([result(50, 50), result(12, 0)]);
    expect(summary.tone).toBe("warn");
    expect(summary.text).toContain("50 snapshots could not be opened and were not compared");
    expect(summary.text).toContain("The other 12 snapshots checked are what a fold of their events gives.");
    expect(summary.text).not.toContain("Every snapshot checked");
    expect(checkSummary([result(1, 1)]).text).toContain("None could be compared.");
  });

  it("puts snapshots that differ first", () => {
    const summary = checkSummary([result(50, 3, 2)]);
    expect(summary.tone).toBe("error");
    expect(summary.text).toMatch(/^2 snapshots not what a fold of the events gives/);
  });
});

describe("what writing the historic snapshots did", () => {
  it("says how many were written for how many records, whether it was stopped, and what is left and why", () => {
    expect(backfillSummary({ streams: 1, written: 1, stillMissing: 0, total: 1 }, false)).toBe("Done: 1 historic snapshot written for 1 record.");
    expect(backfillSummary({ streams: 1_200, written: 2_400, stillMissing: 0, total: 3_000 }, true)).toBe(
      "Stopped: 2,400 historic snapshots written for 1,200 records so far; write them again to carry on.",
    );
    expect(backfillSummary({ streams: 3, written: 2, stillMissing: 1, total: 3 }, false)).toBe(
      "Done: 2 historic snapshots written for 3 records. 1 record still lacks some: a snapshot of an older state version holds the version; discard the stale snapshots, then write them again.",
    );
  });
});
