import { describe, expect, it } from "vitest";
import { z } from "zod";
import { ValidationError } from "./errors";
import {
  boundedJsonObject,
  clinicalInstant,
  cursorInput,
  cursorInstant,
  dateOfBirthInput,
  decodeCursor,
  encodeCursor,
  filterInstant,
  inputShapeProblem,
  rowIdText,
  text,
  versionInput,
} from "./input";

const messages = (schema: z.ZodType, value: unknown) => {
  const r = z.object({ field: schema }).safeParse({ field: value });
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
};

describe("text", () => {
  const name = text(10, { min: 1 });
  it("refuses NUL and lone surrogates, naming the field", () => {
    expect(messages(name, "a\u0000b")).toEqual(["field: must not contain a NUL character (U+0000)"]);
    expect(messages(name, "a\ud800")).toEqual(["field: must not contain an unpaired surrogate (malformed Unicode)"]);
    expect(messages(name, "\udfff\ud800")).toHaveLength(1);
  });
  it("accepts real Unicode, trims, and bounds the length after trimming", () => {
    expect(name.parse("  Zoë 😀  ")).toBe("Zoë 😀");
    expect(messages(name, "   ")).toEqual(["field: required"]);
    expect(messages(name, "x".repeat(11))).toEqual(["field: at most 10 characters"]);
    expect(messages(name, "x".repeat(1_000_000))).toEqual(["field: at most 10 characters"]);
  });
  it("keeps spaces when asked (passwords)", () => {
    expect(text(20, { trim: false }).parse(" pass ")).toBe(" pass ");
  });
});

describe("numbers and dates", () => {
  it("bounds a version to int4", () => {
    expect(versionInput.safeParse(2_147_483_646).success).toBe(true);
    expect(versionInput.safeParse(2_147_483_647).success).toBe(false);
    expect(versionInput.safeParse(Number.NaN).success).toBe(false);
  });
  it("bounds a row id to int8", () => {
    expect(rowIdText.safeParse("9223372036854775807").success).toBe(true);
    expect(rowIdText.safeParse("9223372036854775808").success).toBe(false);
    expect(rowIdText.safeParse("0").success).toBe(false);
    expect(rowIdText.safeParse("-1").success).toBe(false);
  });
  it("refuses dates of birth before 1900 and impossible ones", () => {
    expect(dateOfBirthInput.safeParse("1900-01-01").success).toBe(true);
    expect(messages(dateOfBirthInput, "1899-12-31")).toEqual(["field: must be 1900-01-01 or later"]);
    for (const d of ["0000-01-01", "-0001-01-01", "2023-02-29", "-271821-04-20"]) expect(dateOfBirthInput.safeParse(d).success).toBe(false);
  });
  it("keeps instants inside what PostgreSQL holds and what is plausible", () => {
    for (const d of [new Date(-8.64e15), new Date("0000-01-01T00:00:00Z"), new Date(Number.NaN), new Date("+010000-01-01T00:00:00Z")]) {
      expect(filterInstant.safeParse(d).success).toBe(false);
      expect(clinicalInstant.safeParse(d).success).toBe(false);
    }
    expect(filterInstant.safeParse(new Date()).success).toBe(true);
    expect(clinicalInstant.safeParse(new Date("1949-12-31T00:00:00Z")).success).toBe(false);
    expect(clinicalInstant.safeParse(new Date()).success).toBe(true);
  });
});

describe("bounded JSON", () => {
  const result = boundedJsonObject({ maxBytes: 1024, maxDepth: 3, maxStringLength: 100 });
  it("accepts a plain result", () => {
    expect(result.parse({ hb: { value: 13.5, unit: "g/dL" }, flags: ["low", null, true] })).toEqual({ hb: { value: 13.5, unit: "g/dL" }, flags: ["low", null, true] });
  });
  it("refuses what PostgreSQL cannot store or should not, at the path inside", () => {
    expect(messages(result, { a: { b: "x\u0000" } })).toEqual(["field.a.b: must not contain a NUL character (U+0000)"]);
    expect(messages(result, { "k\ud800": 1 })).toEqual(["field.k\ud800: key must not contain an unpaired surrogate (malformed Unicode)"]);
    expect(messages(result, { n: Number.NaN })).toEqual(["field.n: must be a finite number"]);
    expect(messages(result, { a: { b: { c: { d: 1 } } } })).toEqual(["field.a.b.c.d: nests deeper than 3 levels"]);
    expect(messages(result, { report: "x".repeat(101) })).toEqual(["field.report: a value may be at most 100 characters"]);
    expect(messages(result, Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`k${i}`, "v".repeat(50)])))).toEqual(["field: may be at most 1 KB of JSON"]);
    expect(messages(result, { d: new Date() })).toHaveLength(1);
    expect(messages(result, [1])).toEqual(["field: must be an object"]);
    // As JSON.parse makes it: an own key, which any copy of the value would turn into a prototype.
    expect(messages(result, JSON.parse('{"a": {"__proto__": {"x": 1}}}'))).toEqual(['field.a.__proto__: key must not be "__proto__"']);
  });
});

describe("page cursors", () => {
  const shape = z.strictObject({ r: z.int().min(0).max(32_767), t: cursorInstant, id: z.uuid() });
  const good = { r: 1, t: "2026-01-01T00:00:00.000Z", id: "6f1c1b1e-8d1a-4a53-9a53-2a8f0d1f7b11" };
  it("round-trips what the server issued", () => {
    expect(decodeCursor(encodeCursor(good), shape)).toEqual(good);
    expect(cursorInput(shape).safeParse(encodeCursor(good)).success).toBe(true);
    for (const t of ["2024-01-01T00:00:00+15:59", "2024-01-01T00:00:00.123456-05:00", "2024-01-01T00:00:00+05:30"]) {
      expect(decodeCursor(encodeCursor({ ...good, t }), shape)).toEqual({ ...good, t });
    }
  });
  it("refuses forged, malformed and overflowing cursors as a ValidationError on the cursor field", () => {
    const forged = [
      encodeCursor({ ...good, r: 32_768 }),
      encodeCursor({ ...good, t: "0000-01-01T00:00:00Z" }),
      encodeCursor({ ...good, t: "not a time" }),
      // A valid ISO offset PostgreSQL refuses (at most 15:59): was a 500 from the worklist's query.
      encodeCursor({ ...good, t: "2024-01-01T00:00:00+23:59" }),
      encodeCursor({ ...good, t: "2024-01-01T00:00:00-16:00" }),
      encodeCursor({ ...good, extra: 1 }),
      encodeCursor([good]),
      "not base64!",
      Buffer.from([0xff, 0xfe]).toString("base64url"),
      "A".repeat(2000),
    ];
    for (const cursor of forged) {
      expect(() => decodeCursor(cursor, shape)).toThrow(ValidationError);
      expect(cursorInput(shape).safeParse(cursor).success).toBe(false);
    }
  });
});

describe("the shape of a whole input", () => {
  it("refuses deep nesting and huge collections before any schema walks them", () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(inputShapeProblem(deep)).toMatch(/deeper than 32/);
    expect(inputShapeProblem(Array.from({ length: 60_000 }, () => 0))).toMatch(/more than 50000 values/);
    expect(inputShapeProblem(new Map([[1, { a: [1, 2] }]]))).toBeNull();
    expect(inputShapeProblem({ a: { b: [1, "x", null] } })).toBeNull();
  });

  it("refuses a text-direction control in any string, key or map key, naming where it is", () => {
    expect(inputShapeProblem({ reason: "ok \u202Eevorppa ton" })).toBe(
      "reason contains a text-direction control character (U+202E), which makes the text display in another order than it reads; remove it",
    );
    expect(inputShapeProblem({ changes: { notes: ["fine", "a \u2066b\u2069"] } })).toMatch(/^changes\.notes\.1 contains .*\(U\+2066\)/);
    expect(inputShapeProblem({ ["x\u202Ay"]: 1 })).toMatch(/^x\\u202Ay contains .*\(U\+202A\)/);
    expect(inputShapeProblem(new Map([["k\u202D", 1]]))).toMatch(/U\+202D/);
    expect(inputShapeProblem("\u2067")).toMatch(/^input contains/);
    // A sparse array's holes are walked as undefined, not tripped over.
    expect(inputShapeProblem({ list: [1, , "\u202B"] })).toMatch(/^list\.2 contains/);
    // Right-to-left text and its marks reorder nothing by themselves: accepted.
    expect(inputShapeProblem({ reason: "\u05E9\u05DC\u05D5\u05DD \u200Fabc\u200E \u0645\u0631\u062D\u0628\u0627" })).toBeNull();
  });

  it("refuses a string of nothing a reader can see, where trimming would leave it to pass a length check", () => {
    expect(inputShapeProblem({ reason: "\u200B\u200B\u200B" })).toBe(
      "reason holds only invisible characters (such as a zero-width space), which no one reading it can see; type the text",
    );
    expect(inputShapeProblem({ note: " \u00AD\u2060 \n" })).toMatch(/^note holds only invisible/);
    expect(inputShapeProblem({ a: ["ok", "\u0007"] })).toMatch(/^a\.1 holds only invisible/);
    // Characters that draw nothing though Unicode counts them as letters, symbols or marks.
    for (const blank of ["\u3164\u3164\u3164", "\u2800\u2800\u2800", "\uFE0F\uFE0F\uFE0F", "\u115F\u1160\uFFA0", "\u{E0100}\u034F\u180B"]) {
      expect(inputShapeProblem({ reason: blank }), JSON.stringify(blank)).toMatch(/^reason holds only invisible/);
    }
    // After a letter, a variation selector is part of how it is written (a Japanese name's ideographic variant).
    expect(inputShapeProblem({ familyName: "\u845B\u{E0100}\u98FE" })).toBeNull();
    // Blank is not invisible: an empty search box, a note left empty (the schemas trim and decide).
    expect(inputShapeProblem({ search: "", note: "  \n\t ", x: "\u3000" })).toBeNull();
    // Visible text with an invisible character in it is the name and text rules' business.
    expect(inputShapeProblem({ reason: "moved\u200B house", persian: "\u0639\u0644\u06CC\u200C\u0631\u0636\u0627" })).toBeNull();
    // Linear on a long input (an anchored pattern would backtrack for minutes here).
    const started = performance.now();
    expect(inputShapeProblem({ long: "\u200B".repeat(200_000) + "\n" })).toMatch(/only invisible/);
    expect(inputShapeProblem({ long: "\u200B".repeat(200_000) + "a" })).toBeNull();
    expect(performance.now() - started).toBeLessThan(1_000);
  });
});
