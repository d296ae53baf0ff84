import { describe, expect, it } from "vitest";
import { formatMinutes } from "./reportFormat";
import { formatLag } from "../ProjectionLag";

describe("report formats", () => {
  it("says durations in minutes, hours and days", () => {
    expect([formatMinutes(null), formatMinutes(0), formatMinutes(45.4), formatMinutes(60), formatMinutes(125), formatMinutes(1440), formatMinutes(1500)]).toEqual([
      "—",
      "0 min",
      "45 min",
      "1 h",
      "2 h 5 min",
      "1 d",
      "1 d 1 h",
    ]);
  });

  it("says a lag in seconds, minutes and hours", () => {
    expect([formatLag(0.2), formatLag(2), formatLag(150), formatLag(7300)]).toEqual(["under a second", "2 s", "3 min", "2 h 2 min"]);
  });
});
