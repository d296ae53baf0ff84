// The time-travel pickers' local times across a change of clocks: an instant in the hour that
// occurs twice (clocks go back) survives being shown and submitted unedited.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { errorText, fromLocalInput, toLocalInput, zoneCaption } from "./format";
import { errorText as clinicalErrorText } from "../clinical/errors";

describe("datetime-local values on the night clocks go back (America/New_York, 2026-11-01)", () => {
  let zone: string | undefined;
  beforeEach(() => {
    zone = process.env.TZ;
    process.env.TZ = "America/New_York";
  });
  afterEach(() => {
    process.env.TZ = zone;
    if (zone === undefined) delete process.env.TZ;
  });

  it("keeps the second 01:30 when its value comes back unedited, and reads a typed one as the browser does", () => {
    const second = new Date("2026-11-01T06:30:00.000Z"); // 01:30 EST, after the clocks went back
    const value = toLocalInput(second);
    expect(value).toBe("2026-11-01T01:30:00.000");
    // Local time alone is the first 01:30 (EDT): an hour earlier.
    expect(fromLocalInput(value)?.toISOString()).toBe("2026-11-01T05:30:00.000Z");
    expect(fromLocalInput(value, second)?.toISOString()).toBe(second.toISOString());
    // Edited, it is read as typed.
    expect(fromLocalInput("2026-11-01T03:00:00.000", second)?.toISOString()).toBe("2026-11-01T08:00:00.000Z");
  });

  it("keeps the second 01:30 when the input hands the value back shortened (Chromium drops zero seconds)", () => {
    const second = new Date("2026-11-01T06:30:00.000Z");
    expect(fromLocalInput("2026-11-01T01:30", second)?.toISOString()).toBe(second.toISOString());
    expect(fromLocalInput("2026-11-01T01:30:00", second)?.toISOString()).toBe(second.toISOString());
  });

  it("captions the offset in force at the moment shown, not today's", () => {
    expect(zoneCaption(new Date("2026-07-01T12:00:00Z"))).toContain("UTC-04:00");
    expect(zoneCaption(new Date("2026-12-01T12:00:00Z"))).toContain("UTC-05:00");
  });
});

describe("errorText", () => {
  it("words a request that got no answer, not the browser's 'Failed to fetch'", () => {
    // What the tRPC client rejects with when fetch fails: a message and no data.
    expect(errorText(Object.assign(new Error("Failed to fetch"), { data: undefined }))).toBe("The server did not answer. Check the connection and try again.");
  });

  it("words an answer that was not the API's (a gateway's 502 page) by its status, not as no answer", () => {
    const gateway = Object.assign(new Error("HTTP 502"), { data: undefined, cause: { gatewayStatus: 502 } });
    expect(errorText(gateway)).toBe("The server, or a gateway in front of it, failed (HTTP 502). Try again in a moment; if it persists, tell support.");
    expect(clinicalErrorText(gateway)).toBe(errorText(gateway));
  });

  it("keeps the server's words when it answered", () => {
    expect(errorText({ message: "Patient not found", data: { code: "NOT_FOUND" } })).toBe("Patient not found");
    expect(errorText({ message: "Boom", data: { code: "INTERNAL_SERVER_ERROR" } })).toBe("Boom");
  });
});
