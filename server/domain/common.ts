// What every decider shares: command metadata, input parsing that speaks the error module,
// and the exhaustiveness guard. Pure: nothing here reads a clock or makes ids.
import { z } from "zod";
import { InvariantError, ValidationError } from "../errors";
import { idText } from "../input";

/** Supplied by the command handler, so `decide` never reads the clock itself. */
export type CommandMetadata = { now: Date };

/**
 * Parses command input with the same zod schemas the API can reuse, so a decider called from
 * anywhere (handler, seed, test) refuses malformed input as a ValidationError naming the field,
 * instead of failing later at encode time.
 */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, fieldPrefix?: string): z.output<S> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const path = [...(fieldPrefix === undefined ? [] : [fieldPrefix]), ...(issue?.path ?? [])];
  const field = path.length > 0 ? path.map(String).join(".") : undefined;
  throw new ValidationError(issue ? `${field ?? "input"}: ${issue.message}` : "Invalid input", field);
}

/** A business rule refused the command: `rule` is the machine-readable code the UI can map. */
export function refuse(rule: string, message: string): never {
  throw new InvariantError(message, rule);
}

/** The `never` check at the end of exhaustive switches; throws only if types were bypassed. */
export function unreachable(value: never): never {
  throw new Error(`Unhandled case: ${JSON.stringify(value)}`);
}

/** Instants travel as Date in commands and as ISO strings in events and state (JSON). */
export const toIso = (date: Date): string => date.toISOString();

/**
 * Tolerated lead of a client-entered instant over the server's `now`: browser clocks drift,
 * and a clinician entering "now" must not be refused for it.
 */
export const clockSkewToleranceMs = 5 * 60_000;

/** A user id from the sign-in system (providers are users): opaque, not necessarily a uuid. */
export const userIdSchema = idText;
