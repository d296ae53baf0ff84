import { describe, expect, it } from "vitest";
import { z } from "zod";
import { encodeColumns, encodeExpectedVersion, versionMatches } from "./append";
import { createRegistry, defineEvent } from "./serializer";
import type { NewEvent } from "./types";
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

describe("the batch as append_to_stream's columns", () => {
  const registry = createRegistry([defineEvent("NoteAdded", z.object({ text: z.string() }))]);
  const event = (over: Partial<NewEvent>): NewEvent => ({
    type: "NoteAdded",
    data: { text: 'a "quoted" \\ text' },
    eventId: "00000000-0000-4000-8000-000000000001",
    occurredAt: new Date("2026-01-02T03:04:05.678Z"),
    userId: "user-1",
    correlationId: "corr-1",
    causationId: null,
    ...over,
  });

  it("writes array literals PostgreSQL reads back as the values given, payloads as a JSON array", () => {
    const [ids, types, versions, data, metadata, occurred, users, correlations, causations] = encodeColumns(registry, [
      event({ userId: "NULL", correlationId: 'a "b", {c} \\ d', causationId: "command:x" }),
      event({ userId: "", correlationId: " padded ", causationId: undefined as unknown as null }),
    ]);
    expect(ids).toBe("{00000000-0000-4000-8000-000000000001,00000000-0000-4000-8000-000000000001}");
    expect(types).toBe("{NoteAdded,NoteAdded}");
    expect(versions).toBe("{1,1}");
    expect(JSON.parse(data!)).toEqual([{ text: 'a "quoted" \\ text' }, { text: 'a "quoted" \\ text' }]);
    expect(metadata).toBeNull();
    expect(occurred).toBe("{2026-01-02T03:04:05.678Z,2026-01-02T03:04:05.678Z}");
    expect(users).toBe('{"NULL",""}');
    expect(correlations).toBe('{"a \\"b\\", {c} \\\\ d"," padded "}');
    expect(causations).toBe("{command:x,NULL}");
  });

  it("sends metadata only when an event has some", () => {
    const [, , , , metadata] = encodeColumns(registry, [event({}), event({ extra: { source: "test" } })]);
    expect(JSON.parse(metadata!)).toEqual([{}, { source: "test" }]);
  });
});
