import { describe, expect, it } from "vitest";
import { z } from "zod";
import { createRegistry, defineEvent, EventDecodeError, EventSchemaError, UnknownEventTypeError } from "./serializer";

// v1 stored one "name"; v2 split it; v3 added a required "source" with a default for old events.
const renamed = defineEvent(
  "PersonNamed",
  z.object({ given: z.string(), family: z.string(), source: z.enum(["desk", "import"]) }),
  {
    version: 3,
    upcasters: {
      1: (d) => {
        const name = String(d.name);
        const cut = name.lastIndexOf(" ");
        return { given: name.slice(0, cut), family: name.slice(cut + 1) };
      },
      2: (d) => ({ ...d, source: "desk" }),
    },
  },
);
const registry = createRegistry([renamed, defineEvent("Pinged", z.object({ at: z.iso.datetime() }))]);

describe("serializer", () => {
  it("round-trips a current event: encode stamps the version, decode returns the same payload", () => {
    const data = { given: "Ada", family: "Lovelace", source: "import" as const };
    const encoded = registry.encode({ type: "PersonNamed", data });
    expect(encoded).toEqual({ eventVersion: 3, data });
    const wire = JSON.parse(JSON.stringify(encoded.data)) as unknown;
    expect(registry.decode("PersonNamed", encoded.eventVersion, wire)).toEqual(data);
  });

  it("upcasts v1 through v2 to v3 on read", () => {
    expect(registry.decode("PersonNamed", 1, { name: "Mary Ann Evans" })).toEqual({
      given: "Mary Ann",
      family: "Evans",
      source: "desk",
    });
  });

  it("upcasts v2 to v3 on read", () => {
    expect(registry.decode("PersonNamed", 2, { given: "A", family: "B" })).toEqual({ given: "A", family: "B", source: "desk" });
  });

  it("refuses an unknown type, naming it, on write and on read", () => {
    expect(() => registry.encode({ type: "Nope", data: {} })).toThrow(UnknownEventTypeError);
    expect(() => registry.decode("Nope", 1, {})).toThrow(/Unknown event type "Nope"/);
  });

  it("refuses a payload that does not match its schema, naming the field", () => {
    expect(() => registry.encode({ type: "Pinged", data: { at: "yesterday" } })).toThrow(EventSchemaError);
    expect(() => registry.encode({ type: "Pinged", data: { at: "yesterday" } })).toThrow(/at:/);
  });

  it("refuses a stored version newer than the code knows", () => {
    expect(() => registry.decode("Pinged", 2, { at: new Date().toISOString() })).toThrow(/newer than this build/);
  });

  it("tells a stored payload it cannot read (the server's fault) from a new one it refuses (the caller's)", () => {
    expect(() => registry.decode("Pinged", 1, { at: "yesterday" })).toThrow(EventDecodeError);
    expect(() => registry.decode("Pinged", 1, { at: "yesterday" })).not.toThrow(EventSchemaError);
    expect(() => registry.decode("Pinged", 2, { at: new Date().toISOString() })).toThrow(EventDecodeError);
    // An upcaster that trips over a stored payload it did not expect is a decode failure too.
    expect(() => registry.decode("PersonNamed", 1, null)).toThrow(EventDecodeError);
  });

  describe("trusted decode (bulk reads of payloads validated on write)", () => {
    it("returns a current payload as stored, without re-validating its values", () => {
      const stored = { given: "Ada", family: "Lovelace", source: "import" };
      expect(registry.decodeTrusted("PersonNamed", 3, stored)).toBe(stored);
      // What decode would refuse, value-wise, passes: it was validated when it was written.
      expect(registry.decodeTrusted("Pinged", 1, { at: "yesterday" })).toEqual({ at: "yesterday" });
    });

    it("still upcasts an older payload, and validates what the upcasters made", () => {
      expect(registry.decodeTrusted("PersonNamed", 1, { name: "Mary Ann Evans" })).toEqual({ given: "Mary Ann", family: "Evans", source: "desk" });
      expect(() => registry.decodeTrusted("PersonNamed", 2, { given: "A", family: 7 })).toThrow(/family/);
    });

    it("refuses a payload that is really broken, naming what is wrong", () => {
      expect(() => registry.decodeTrusted("PersonNamed", 3, null)).toThrow(EventDecodeError);
      expect(() => registry.decodeTrusted("PersonNamed", 3, null)).toThrow(/expected an object, got null/);
      expect(() => registry.decodeTrusted("PersonNamed", 3, ["x"])).toThrow(/got an array/);
      expect(() => registry.decodeTrusted("PersonNamed", 3, "text")).toThrow(/got string/);
      expect(() => registry.decodeTrusted("PersonNamed", 3, { given: "A" })).toThrow(/family: required field missing; source: required field missing/);
      expect(() => registry.decodeTrusted("Nope", 1, {})).toThrow(UnknownEventTypeError);
      expect(() => registry.decodeTrusted("Pinged", 2, { at: new Date().toISOString() })).toThrow(/newer than this build/);
    });

    it("does not ask for optional fields", () => {
      const withOptional = createRegistry([defineEvent("Tagged", z.object({ tag: z.string(), note: z.string().optional(), n: z.number().default(1) }))]);
      expect(withOptional.decodeTrusted("Tagged", 1, { tag: "a" })).toEqual({ tag: "a" });
    });
  });

  it("refuses a definition that lacks an upcaster for an older version", () => {
    expect(() => defineEvent("Broken", z.object({}), { version: 2 })).toThrow(/lacks an upcaster from v1/);
  });

  it("refuses registering one type twice", () => {
    expect(() => createRegistry([renamed, renamed])).toThrow(/registered twice/);
  });
});
