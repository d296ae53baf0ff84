// What the system accepts from outside, in one place: text, integers bounded by the columns that
// hold them, plausible dates, bounded JSON values and page cursors. Every tRPC input and every
// command input is built from these, so nothing reaches the database unchecked: a value that
// PostgreSQL would refuse (a NUL byte, an int4 overflow, year 0) is refused here instead, as a
// zod issue at the field's path, which the API answers as BAD_REQUEST.
import { z } from "zod";
import { ValidationError } from "./errors";

// ---- text ------------------------------------------------------------------------------------
// The string schema lives in shared/ so the browser's forms validate with the very same rules.
import { blankCharacters, text } from "../shared/text";
export { idText, personName, text, textProblem, type TextOptions } from "../shared/text";

/** Why an admin did something to the machinery (a rebuild, a dead letter set aside): recorded in clear, so never a patient's details. */
export const operatorReason = () =>
  text(500, { min: 3, minMessage: "say why (at least 3 characters)", maxMessage: "keep the reason under 500 characters" });

// ---- integers ----------------------------------------------------------------------------------

export const INT2_MAX = 32_767;
export const INT4_MAX = 2_147_483_647;
/** Largest int8 (bigint); row ids beyond it do not exist. */
export const INT8_MAX = 9_223_372_036_854_775_807n;

/** A stream version or a version to read from: int4 in every table that holds one. */
export const versionInput = z.int().min(0).max(INT4_MAX - 1);

/** A global position (int8): every one the API hands out is a JavaScript safe integer. */
export const positionInput = z.int().positive();

/** A page size. */
export const pageLimit = (max: number, fallback: number) => z.int().min(1).max(max).default(fallback);

/** A bigint row id as text (int8 does not fit a JavaScript number's exact range). */
export const rowIdText = z
  .string()
  .regex(/^[1-9]\d{0,18}$/, "must be a row id")
  .refine((v) => BigInt(v) <= INT8_MAX, "must be a row id");

// ---- dates -----------------------------------------------------------------------------------

/** No record in this system predates 1900, and nothing is filed after 2200. */
export const EARLIEST = new Date("1900-01-01T00:00:00Z");
export const LATEST = new Date("2200-01-01T00:00:00Z");

/** An instant for filters and time travel: a real date inside [1900, 2200). */
export const filterInstant = z
  .date("must be a date")
  .min(EARLIEST, "must be in 1900 or later")
  .max(LATEST, "must be before 2200");

/**
 * A clinical instant (a visit's start or end, when an order is scheduled): 1950 to 2100. A fixed
 * window, so deciders that parse it stay pure; their own rules (not in the future, not before
 * the start) refuse what is plausible but wrong, with their own messages.
 */
export const clinicalInstant = z
  .date("must be a date")
  .min(new Date("1950-01-01T00:00:00Z"), "must be in 1950 or later")
  .max(new Date("2100-01-01T00:00:00Z"), "must be before 2100");

// The date of birth's schema lives with the patient forms in shared/.
export { dateOfBirthInput } from "../shared/clinical/patients";

// ---- JSON values -----------------------------------------------------------------------------
// Bounded JSON lives in shared/ too: a lab result's form checks it before sending.
export { boundedJsonObject, type JsonLimits } from "../shared/json";

// ---- page cursors ----------------------------------------------------------------------------

/*
 * Page cursors are validated strictly, not signed. A cursor carries only the last row's sort
 * key, and every filter and access check is applied again on each page, so a forged cursor can
 * only start a page at another place in data the caller may read anyway: there is nothing to
 * protect with a signature, and a key would have to be kept and rotated. What must not happen is
 * a forged value reaching SQL (a smallint overflow, a text that is no timestamp), so each
 * cursor's content has a strict schema that bounds every field to its column.
 */

/** Opaque page cursors: base64url JSON of the last row's sort key. */
export function encodeCursor(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}

const cursorPattern = /^[A-Za-z0-9_-]{1,1000}$/;

function parseCursor<T>(cursor: string, schema: z.ZodType<T>): T | null {
  if (!cursorPattern.test(cursor)) return null;
  try {
    const parsed = schema.safeParse(JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

const cursorMessage = "is not a page cursor this server issued (reload the list)";

/** Decodes a cursor from the client; a malformed or forged one is a ValidationError (BAD_REQUEST). */
export function decodeCursor<T>(cursor: string | null | undefined, schema: z.ZodType<T>): T | null {
  if (!cursor) return null;
  const value = parseCursor(cursor, schema);
  if (value === null) throw new ValidationError(`cursor: ${cursorMessage}`, "cursor");
  return value;
}

/** The input field for a cursor of this shape: checked at the schema, so the field is named. */
export function cursorInput<T>(schema: z.ZodType<T>) {
  return z
    .string()
    .max(1000, cursorMessage)
    .refine((c) => parseCursor(c, schema) !== null, cursorMessage)
    .nullish();
}

/**
 * A timestamp inside a cursor: ISO text of a real instant PostgreSQL can hold, with an offset it
 * takes (at most 15:59 either way; "+23:59" was a valid ISO offset that the query refused: a 500).
 */
export const cursorInstant = z.iso.datetime({ offset: true }).refine((t) => {
  const ms = Date.parse(t);
  const offsetHours = /[+-](\d{2}):?\d{2}$/.exec(t)?.[1];
  return ms >= EARLIEST.getTime() && ms < LATEST.getTime() && (offsetHours === undefined || Number(offsetHours) <= 15);
});

// ---- the shape of a whole input ----------------------------------------------------------------

export const MAX_INPUT_DEPTH = 32;
export const MAX_INPUT_NODES = 50_000;

/**
 * Characters that reorder how the text around them displays: the embeddings, overrides and
 * isolates of Unicode's bidirectional algorithm (U+202A-U+202E, U+2066-U+2069). In a reason or a
 * note that an officer reads, "\u202Eevorppa ton" displays as "not approve" backwards: the
 * record would say one thing and show another. Right-to-left scripts need none of them (the
 * marks U+200E and U+200F, which reorder nothing by themselves, stay allowed).
 */
const directionControl = /[\u202A-\u202E\u2066-\u2069]/u;

/**
 * A string of nothing a reader can see: invisible format or control characters (a zero-width
 * space, a soft hyphen, a word joiner) with at most spaces around them. Trimming keeps them, so
 * three zero-width spaces passed "say why (at least 3 characters)" and the audit log recorded a
 * reason no one can read. Only spaces (an empty search box) stay allowed: the schemas trim them.
 */
const visible = new RegExp(String.raw`[^\s\p{Cc}\p{Cf}\p{Z}${blankCharacters}]`, "u");
const invisible = new RegExp(String.raw`[\p{Cf}\u0000-\u0008\u000E-\u001F\u007F-\u009F${blankCharacters}]`, "u");

/**
 * Whether a raw input is too deep or too large to hand to the schemas at all (zod's recursive
 * schemas (JSON values) and superjson walk it recursively, and a million-node array costs
 * memory before any field is looked at), or holds a text-direction control in any string (no
 * procedure takes one: the schemas would store it, and every reader would see the text
 * reordered), or a string of invisible characters alone. Null when it is fine. The input's own strings only: events already stored are read
 * as they were written.
 */
export function inputShapeProblem(input: unknown): string | null {
  let nodes = 0;
  const stack: { value: unknown; depth: number; path: string }[] = [{ value: input, depth: 0, path: "" }];
  const controlIn = (text: string, path: string) => {
    const where = () => path.replace(new RegExp(directionControl.source, "gu"), (c) => `\\u${c.codePointAt(0)!.toString(16).toUpperCase()}`) || "input";
    const control = directionControl.exec(text);
    if (control) {
      const code = control[0].codePointAt(0)!.toString(16).toUpperCase();
      return `${where()} contains a text-direction control character (U+${code}), which makes the text display in another order than it reads; remove it`;
    }
    // Two linear scans (one anchored pattern would backtrack quadratically on a long input).
    if (!visible.test(text) && invisible.test(text)) {
      return `${where()} holds only invisible characters (such as a zero-width space), which no one reading it can see; type the text`;
    }
    return null;
  };
  while (stack.length > 0) {
    const { value, depth, path } = stack.pop()!;
    if (++nodes > MAX_INPUT_NODES) return `input has more than ${MAX_INPUT_NODES} values`;
    if (typeof value === "string") {
      const problem = controlIn(value, path);
      if (problem) return problem;
      continue;
    }
    if (typeof value !== "object" || value === null) continue;
    if (depth >= MAX_INPUT_DEPTH) return `input nests deeper than ${MAX_INPUT_DEPTH} levels`;
    // A map's keys may be values of any kind (superjson): walked as children too.
    const children: [key: unknown, child: unknown][] =
      value instanceof Map
        ? [...[...value.keys()].map((k, i): [string, unknown] => [`(key ${i})`, k]), ...value.entries()]
        : value instanceof Set
          ? [...value].map((v, i) => [i, v])
          : Array.isArray(value)
            ? Array.from(value, (v, i): [number, unknown] => [i, v])
            : Object.entries(value);
    if (children.length > MAX_INPUT_NODES) return `input has more than ${MAX_INPUT_NODES} values`;
    for (const [key, child] of children) {
      const at = path === "" ? String(key) : `${path}.${String(key)}`;
      // A key is text too (an object's, a map's).
      const problem = typeof key === "string" ? controlIn(key, at) : null;
      if (problem) return problem;
      stack.push({ value: child, depth: depth + 1, path: at });
    }
  }
  return null;
}
