// When the console calls sealing late, and the reason it names.
import { describe, expect, it } from "vitest";
import { ageText, passText, sealingWarnings, type SealerPass, type SealingFigures } from "./sealingHealth";

const pass = (over: Partial<SealerPass> = {}): SealerPass => ({
  processId: "host:1:abc",
  lastPassAt: new Date("2026-12-01T10:00:00Z"),
  ageSeconds: 5,
  outcome: "idle",
  sealedEvents: 0,
  reason: null,
  lastSealedAt: null,
  ...over,
});
const figures = (over: Partial<SealingFigures> = {}): SealingFigures => ({
  backlog: { events: 0, oldestSeconds: 0 },
  lateAfterSeconds: 300,
  sealers: [pass()],
  ...over,
});

describe("sealing warnings", () => {
  it("none while sealing keeps up, a backlog younger than the threshold included", () => {
    expect(sealingWarnings(figures())).toEqual([]);
    expect(sealingWarnings(figures({ backlog: { events: 40, oldestSeconds: 299 } }))).toEqual([]);
  });

  it("late when the oldest unsealed event waited past the threshold, naming why the last pass did not seal", () => {
    const [w] = sealingWarnings(figures({ backlog: { events: 3, oldestSeconds: 725 }, sealers: [pass({ outcome: "failed", reason: "DatabaseError [57P01]: terminating connection" })] }));
    expect(w).toBe("Sealing is behind: the oldest unsealed event has waited 12m (more than 5m); the last sealer pass failed: DatabaseError [57P01]: terminating connection");
  });

  it("late when no pass came within the threshold, naming the refusal", () => {
    const warnings = sealingWarnings(figures({ sealers: [pass({ ageSeconds: 3_700, outcome: "refused", reason: "no signing key configured (AUDIT_SIGNING_KEY)" })] }));
    expect(warnings).toEqual(["No sealer pass in the last 5m: the last one was 1h 1m ago and refused: no signing key configured (AUDIT_SIGNING_KEY)"]);
    // A sealer that stopped after an idle pass: the sentence says what that pass did.
    expect(sealingWarnings(figures({ sealers: [pass({ ageSeconds: 720, outcome: "idle" })] }))).toEqual(["No sealer pass in the last 5m: the last one was 12m ago and found nothing to seal"]);
  });

  it("a sealer that never reported, and a fresh refusal, are said too", () => {
    expect(sealingWarnings(figures({ sealers: [] }))[0]).toMatch(/No sealer has reported a pass in the last day: no process runs the audit sealer/);
    expect(sealingWarnings(figures({ sealers: [pass({ outcome: "refused", reason: "no signing key configured" })] }))).toEqual([
      "The last sealer pass refused: no signing key configured",
    ]);
  });

  it("a process that refuses beside one that keeps sealing is named with its process, not as the reason sealing stopped", () => {
    const refusing = pass({ processId: "console:7:aaa", ageSeconds: 2, outcome: "refused", reason: "no signing key configured (AUDIT_SIGNING_KEY)" });
    const sealing = pass({ processId: "worker:9:bbb", ageSeconds: 8, outcome: "sealed", sealedEvents: 3 });
    expect(sealingWarnings(figures({ sealers: [refusing, sealing] }))).toEqual([
      "Process console:7:aaa refused: no signing key configured (AUDIT_SIGNING_KEY) (another process keeps sealing)",
    ]);
    // The backlog late all the same: the refusal is not named as its reason.
    expect(sealingWarnings(figures({ backlog: { events: 2, oldestSeconds: 400 }, sealers: [refusing, sealing] }))[0]).toBe(
      "Sealing is behind: the oldest unsealed event has waited 6m (more than 5m)",
    );
  });

  it("says passes and ages in words", () => {
    expect(passText(pass({ outcome: "sealed", sealedEvents: 1 }))).toBe("sealed 1 event");
    expect(passText(pass({ outcome: "sealed", sealedEvents: 12_000 }))).toBe("sealed 12,000 events");
    expect(passText(pass())).toBe("nothing to seal");
    expect([ageText(45), ageText(600), ageText(3_600), ageText(90_000)]).toEqual(["45s", "10m", "1h", "1d 1h"]);
  });
});
