// The one string schema, shared by the server's inputs and the browser's forms: pure zod, no
// server code, so a component may import it.
import { z } from "zod";

/** A lone UTF-16 surrogate: not Unicode at all; JSONB refuses it and UTF-8 cannot encode it. */
const loneSurrogate = /\p{Cs}/u;

/** Why `value` cannot be stored as text, or null when it can. */
export function textProblem(value: string): string | null {
  // PostgreSQL text and JSONB cannot hold U+0000.
  if (value.includes("\u0000")) return "must not contain a NUL character (U+0000)";
  if (loneSurrogate.test(value)) return "must not contain an unpaired surrogate (malformed Unicode)";
  return null;
}

export type TextOptions = {
  /** Minimum length after trimming (default 0). */
  min?: number;
  minMessage?: string;
  maxMessage?: string;
  /** Default true; passwords keep their spaces. */
  trim?: boolean;
};

/**
 * The API's one string schema: refuses NUL and lone surrogates (naming the field through the
 * issue's path), trims, and bounds the length. Use it for every string that is not an enum, a
 * uuid, an email or an anchored pattern (those admit no such characters).
 */
export function text(max: number, options: TextOptions = {}) {
  let schema = z.string().check((ctx) => {
    // Before trimming or counting: a megabyte of input must not be scanned twice to be refused.
    if (ctx.value.length > max * 4 + 1024) {
      ctx.issues.push({ code: "too_big", origin: "string", maximum: max, inclusive: true, input: ctx.value, message: options.maxMessage ?? `at most ${max} characters`, continue: false });
      return;
    }
    const problem = textProblem(ctx.value);
    if (problem) ctx.issues.push({ code: "custom", message: problem, input: ctx.value, continue: false });
  });
  if (options.trim !== false) schema = schema.trim();
  if (options.min !== undefined) schema = schema.min(options.min, options.minMessage ?? (options.min === 1 ? "required" : `at least ${options.min} characters`));
  return schema.max(max, options.maxMessage ?? `at most ${max} characters`);
}

/** An id from outside that is not a uuid (user ids of the sign-in system, stream ids). */
export const idText = text(100, { min: 1 });
