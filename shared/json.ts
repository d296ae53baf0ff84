// JSON values of bounded size, depth and string length, whose text PostgreSQL can store: shared by
// the server's inputs and the browser's forms. Pure zod, no server code.
import { z } from "zod";
import { textProblem } from "./text";

export type JsonLimits = { maxBytes: number; maxDepth: number; maxStringLength: number };

/** Why a JSON value is outside the limits (with the path inside it), or null when it fits. */
function jsonProblem(value: unknown, limits: JsonLimits): { path: (string | number)[]; message: string } | null {
  let size = 0;
  const walk = (v: unknown, path: (string | number)[], depth: number): { path: (string | number)[]; message: string } | null => {
    if (depth > limits.maxDepth) return { path, message: `nests deeper than ${limits.maxDepth} levels` };
    if (typeof v === "string") {
      size += v.length + 2;
      if (v.length > limits.maxStringLength) return { path, message: `a value may be at most ${limits.maxStringLength} characters` };
      const problem = textProblem(v);
      return problem ? { path, message: problem } : null;
    }
    if (typeof v === "number") {
      size += 8;
      return Number.isFinite(v) ? null : { path, message: "must be a finite number" };
    }
    if (v === null || typeof v === "boolean") {
      size += 5;
      return null;
    }
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        const found = walk(v[i], [...path, i], depth + 1);
        if (found) return found;
        if (size > limits.maxBytes) return null;
      }
      return null;
    }
    if (typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype) {
      for (const [key, child] of Object.entries(v as Record<string, unknown>)) {
        size += key.length + 3;
        // JavaScript sets an object's prototype when "__proto__" is assigned, so a copy of the
        // value (a schema's parse, a spread) would drop it, and what was stored would differ
        // from what was sent without anyone being told.
        const keyProblem = key === "__proto__" ? 'must not be "__proto__"' : textProblem(key);
        if (keyProblem) return { path: [...path, key], message: `key ${keyProblem}` };
        const found = walk(child, [...path, key], depth + 1);
        if (found) return found;
        if (size > limits.maxBytes) return null;
      }
      return null;
    }
    return { path, message: "must be JSON (text, a number, true/false, null, a list or an object)" };
  };
  const found = walk(value, [], 0);
  if (found) return found;
  return size > limits.maxBytes ? { path: [], message: `may be at most ${Math.round(limits.maxBytes / 1024)} KB of JSON` } : null;
}

/**
 * A JSON object of bounded size, depth and string length, whose text PostgreSQL can store. The
 * walk runs before zod's own JSON check, which recurses without a limit.
 */
export function boundedJsonObject(limits: JsonLimits) {
  return z
    .custom<Record<string, z.core.util.JSONType>>((v) => typeof v === "object" && v !== null && !Array.isArray(v), "must be an object")
    .check((ctx) => {
      const problem = jsonProblem(ctx.value, limits);
      if (problem) ctx.issues.push({ code: "custom", message: problem.message, path: problem.path, input: ctx.value, continue: false });
    });
}
