// Wall times on the nights the clocks change, in zones with whole-hour, half-hour and
// three-quarter-hour offsets and a half-hour change of clocks.
import { afterEach, describe, expect, it } from "vitest";
import { instantsAtWallTime } from "./wallTime";

const saved = process.env.TZ;
afterEach(() => {
  if (saved === undefined) delete process.env.TZ;
  else process.env.TZ = saved;
});
const inZone = (zone: string, value: string) => {
  process.env.TZ = zone;
  return instantsAtWallTime(value)?.map((d) => d.toISOString());
};

describe("instantsAtWallTime", () => {
  it("finds no instant in the hour the clocks skip (America/New_York, 2026-03-08 02:00-03:00)", () => {
    expect(inZone("America/New_York", "2026-03-08T02:30")).toEqual([]);
    expect(inZone("America/New_York", "2026-03-08T01:59:59")).toEqual(["2026-03-08T06:59:59.000Z"]);
    expect(inZone("America/New_York", "2026-03-08T03:00")).toEqual(["2026-03-08T07:00:00.000Z"]);
  });

  it("finds both instants of the hour the clocks repeat, the first (daylight time) first", () => {
    expect(inZone("America/New_York", "2026-11-01T01:30")).toEqual(["2026-11-01T05:30:00.000Z", "2026-11-01T06:30:00.000Z"]);
    expect(inZone("America/New_York", "2026-11-01T01:30:00.250")).toEqual(["2026-11-01T05:30:00.250Z", "2026-11-01T06:30:00.250Z"]);
    expect(inZone("America/New_York", "2026-11-01T02:00")).toEqual(["2026-11-01T07:00:00.000Z"]);
  });

  it("handles offsets of a half and three quarters of an hour, and a change of half an hour", () => {
    expect(inZone("Asia/Kolkata", "2026-03-08T02:30")).toEqual(["2026-03-07T21:00:00.000Z"]);
    // Chatham (UTC+13:45 in summer) skips 02:45-03:45 on 2026-09-27 and repeats 02:45-03:45 on 2026-04-05.
    expect(inZone("Pacific/Chatham", "2026-09-27T03:00")).toEqual([]);
    expect(inZone("Pacific/Chatham", "2026-04-05T03:00")).toEqual(["2026-04-04T13:15:00.000Z", "2026-04-04T14:15:00.000Z"]);
    // Lord Howe moves its clocks by 30 minutes: 02:00-02:30 is skipped on 2026-10-04.
    expect(inZone("Australia/Lord_Howe", "2026-10-04T02:15")).toEqual([]);
    expect(inZone("Australia/Lord_Howe", "2026-04-05T01:45")).toHaveLength(2);
  });

  it("is undefined for what is not a datetime-local value", () => {
    process.env.TZ = "UTC";
    for (const v of ["", "2026-11-01", "2026-11-01 01:30", "2026-11-01T01:30Z", "yesterday", "2026-02-30T10:00", "2026-13-01T10:00", "2026-11-01T24:00", "2026-11-01T10:60"]) expect(instantsAtWallTime(v), v).toBeUndefined();
  });
});
