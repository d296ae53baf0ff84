import { describe, expect, it } from "vitest";
import { encodeExpectedVersion, versionMatches } from "./append";
import { ValidationError } from "../errors";

describe("expected version rules", () => {
  const cases: [Parameters<typeof versionMatches>[0], number, boolean][] = [
    ["no_stream", 0, true],
    ["no_stream", 1, false],
    ["no_stream", 7, false],
    ["stream_exists", 0, false],
    ["stream_exists", 1, true],
    ["stream_exists", 42, true],
    ["any", 0, true],
    ["any", 9, true],
    [0, 0, true],
    [0, 1, false],
    [3, 3, true],
    [3, 2, false],
    [3, 4, false],
  ];
  it.each(cases)("expected %s against actual %i: %s", (expected, actual, ok) => {
    expect(versionMatches(expected, actual)).toBe(ok);
  });

  it("encodes the four modes for the database function", () => {
    expect(encodeExpectedVersion(5)).toBe(5);
    expect(encodeExpectedVersion(0)).toBe(0);
    expect(encodeExpectedVersion("any")).toBe(-1);
    expect(encodeExpectedVersion("no_stream")).toBe(-2);
    expect(encodeExpectedVersion("stream_exists")).toBe(-3);
  });

  it("refuses a negative or fractional expected version", () => {
    expect(() => encodeExpectedVersion(-1)).toThrow(ValidationError);
    expect(() => encodeExpectedVersion(1.5)).toThrow(ValidationError);
  });
});
