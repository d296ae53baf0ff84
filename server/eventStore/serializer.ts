// Event (de)serialization with a registry of event types: one zod schema per type at its latest
// schema version, and upcasters that lift older stored payloads, one version step at a time.
import { z } from "zod";
import type { DomainEvent, EventData } from "./types";
import { markErased, withinPaths, type Opened, type PhiDeclaration } from "./phi";

export class UnknownEventTypeError extends Error {
  override readonly name = "UnknownEventTypeError";
  constructor(readonly eventType: string) {
    super(`Unknown event type "${eventType}": it is not registered with the serializer`);
  }
}

export class EventSchemaError extends Error {
  override readonly name = "EventSchemaError";
  constructor(
    readonly eventType: string,
    readonly schemaVersion: number,
    readonly issues: string,
  ) {
    super(`Event "${eventType}" (schema v${schemaVersion}) does not match its schema: ${issues}`);
  }
}

/**
 * A stored event this build cannot read (its payload fails today's schema, or it was written by
 * a newer build). Unlike EventSchemaError, raised when a new event is refused on write, this is
 * the server's fault, never the client's.
 */
export class EventDecodeError extends Error {
  override readonly name = "EventDecodeError";
  constructor(
    readonly eventType: string,
    readonly schemaVersion: number,
    readonly issues: string,
  ) {
    super(`Stored event "${eventType}" (schema v${schemaVersion}) cannot be decoded: ${issues}`);
  }
}

/** Lifts a payload stored at version n to version n + 1. */
export type Upcaster = (data: Record<string, unknown>) => Record<string, unknown>;

export type EventDefinition<T extends string = string, D extends EventData = EventData> = {
  type: T;
  /** The current schema version; new events are written with it. */
  version: number;
  schema: z.ZodType<D>;
  /** upcasters[n] lifts version n to n + 1, for every n below `version`. */
  upcasters: Readonly<Record<number, Upcaster>>;
  /**
   * Which payload fields are PHI and whose (see phi.ts): sealed on append, opened on read.
   * Every registered type must declare it (`noPhi` when it holds none); a test fails otherwise.
   */
  phi?: PhiDeclaration;
};

export function defineEvent<T extends string, S extends z.ZodType<EventData>>(
  type: T,
  schema: S,
  options: { version?: number; upcasters?: Record<number, Upcaster>; phi?: PhiDeclaration } = {},
): EventDefinition<T, z.output<S>> {
  const version = options.version ?? 1;
  const upcasters = options.upcasters ?? {};
  for (let v = 1; v < version; v++) {
    if (!upcasters[v]) throw new Error(`Event "${type}" v${version} lacks an upcaster from v${v}`);
  }
  return { type, version, schema: schema as unknown as z.ZodType<z.output<S>>, upcasters, ...(options.phi ? { phi: options.phi } : {}) };
}

/** The event union a list of definitions describes. */
export type EventOf<Defs extends readonly EventDefinition[]> = {
  [K in keyof Defs]: Defs[K] extends EventDefinition<infer T, infer D> ? DomainEvent<T, D> : never;
}[number];

export type EventRegistry = {
  /** Validates a new event's payload and stamps it with the current schema version. */
  encode(event: DomainEvent): { eventVersion: number; data: EventData };
  /**
   * Upcasts a stored payload to the current version and validates it. `open` first puts the
   * payload's PHI back (phi.ts); fields of an erased subject then read PHI_ERASED, and the
   * schema's complaints about those fields alone are forgiven.
   */
  decode(eventType: string, storedVersion: number, data: unknown, open?: (data: unknown) => Opened): EventData;
  /**
   * The bulk-read decode (replays, projections): opens and upcasts like `decode`, and validates in
   * full only a payload that was upcast (the upcaster's output has not been checked before). A
   * payload stored at the current version was validated by `encode` when it was written, so it
   * gets a shape check only: an object carrying every top-level field the schema requires. A
   * payload that is really broken (not an object, a required field missing, an unknown type, a
   * newer version) still fails with EventDecodeError / UnknownEventTypeError.
   */
  decodeTrusted(eventType: string, storedVersion: number, data: unknown, open?: (data: unknown) => Opened): EventData;
  /** The registered definition of a type, or undefined. */
  definition(eventType: string): EventDefinition | undefined;
  has(eventType: string): boolean;
  types(): string[];
};

function formatIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
}

/**
 * The top-level fields a payload must carry, or null when the schema is not a plain object
 * schema (then the trusted decode checks only that the payload is an object). Worked out once per
 * type through zod's public API: a field is required when its schema refuses `undefined`.
 */
function requiredFields(schema: z.ZodType): readonly string[] | null {
  if (!(schema instanceof z.ZodObject)) return null;
  return Object.entries(schema.shape as Record<string, z.ZodType>)
    .filter(([, field]) => !field.safeParse(undefined).success)
    .map(([name]) => name);
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

export function createRegistry(definitions: readonly EventDefinition[]): EventRegistry {
  const byType = new Map<string, EventDefinition>();
  for (const def of definitions) {
    if (byType.has(def.type)) throw new Error(`Event type "${def.type}" registered twice`);
    byType.set(def.type, def);
  }
  const lookup = (type: string): EventDefinition => {
    const def = byType.get(type);
    if (!def) throw new UnknownEventTypeError(type);
    return def;
  };
  const required = new Map<string, readonly string[] | null>();
  const requiredOf = (def: EventDefinition) => {
    if (!required.has(def.type)) required.set(def.type, requiredFields(def.schema));
    return required.get(def.type)!;
  };
  /** A stored payload lifted to the definition's current version by its upcasters, not yet validated. */
  const upcast = (def: EventDefinition, storedVersion: number, data: unknown): unknown => {
    if (storedVersion > def.version) {
      throw new EventDecodeError(def.type, storedVersion, `stored at v${storedVersion}, newer than this build's v${def.version}`);
    }
    let payload = data as Record<string, unknown>;
    for (let v = storedVersion; v < def.version; v++) {
      const step = def.upcasters[v];
      if (!step) throw new EventDecodeError(def.type, v, `no upcaster from v${v}`);
      try {
        payload = step(payload);
      } catch (error) {
        throw new EventDecodeError(def.type, v, `the upcaster from v${v} failed (${(error as Error)?.name ?? "error"})`);
      }
    }
    return payload;
  };
  const validate = (def: EventDefinition, storedVersion: number, payload: unknown): EventData => {
    const parsed = def.schema.safeParse(payload);
    if (!parsed.success) throw new EventDecodeError(def.type, storedVersion, formatIssues(parsed.error));
    return parsed.data;
  };
  /**
   * The payload with its PHI put back (`open`, phi.ts), lifted to the current version. When the
   * subject was erased, today's PHI fields (an upcaster may have moved or derived them) read
   * PHI_ERASED, and `erased` lists them.
   */
  const openAndUpcast = (def: EventDefinition, storedVersion: number, data: unknown, open?: (data: unknown) => Opened) => {
    if (storedVersion > def.version) {
      throw new EventDecodeError(def.type, storedVersion, `stored at v${storedVersion}, newer than this build's v${def.version}`);
    }
    const opened = open ? open(data) : null;
    const payload = upcast(def, storedVersion, opened ? opened.data : data);
    if (!opened?.erased) return { payload, erased: null };
    const erased = [...(def.phi?.fields ?? []), ...opened.erased];
    return { payload: markErased(payload as Record<string, unknown>, erased), erased };
  };
  /** Validation of an erased subject's payload: complaints about the erased fields alone are forgiven. */
  const validateErased = (def: EventDefinition, storedVersion: number, payload: unknown, erased: readonly string[]): EventData => {
    const parsed = def.schema.safeParse(payload);
    if (parsed.success) return parsed.data;
    if (parsed.error.issues.every((i) => withinPaths(i.path, erased))) return payload as EventData;
    throw new EventDecodeError(def.type, storedVersion, formatIssues(parsed.error));
  };
  /** The trusted decode's check of a payload validated on write: its shape, not its values. */
  const checkShape = (def: EventDefinition, storedVersion: number, payload: unknown): EventData => {
    if (!isPlainObject(payload)) {
      throw new EventDecodeError(def.type, storedVersion, `(root): expected an object, got ${payload === null ? "null" : Array.isArray(payload) ? "an array" : typeof payload}`);
    }
    const missing = (requiredOf(def) ?? []).filter((field) => payload[field] === undefined);
    if (missing.length > 0) throw new EventDecodeError(def.type, storedVersion, missing.map((f) => `${f}: required field missing`).join("; "));
    return payload as EventData;
  };
  return {
    encode(event) {
      const def = lookup(event.type);
      const parsed = def.schema.safeParse(event.data);
      if (!parsed.success) throw new EventSchemaError(event.type, def.version, formatIssues(parsed.error));
      return { eventVersion: def.version, data: parsed.data };
    },
    decode(eventType, storedVersion, data, open) {
      const def = lookup(eventType);
      const { payload, erased } = openAndUpcast(def, storedVersion, data, open);
      return erased ? validateErased(def, storedVersion, payload, erased) : validate(def, storedVersion, payload);
    },
    decodeTrusted(eventType, storedVersion, data, open) {
      const def = lookup(eventType);
      const { payload, erased } = openAndUpcast(def, storedVersion, data, open);
      if (storedVersion < def.version) return erased ? validateErased(def, storedVersion, payload, erased) : validate(def, storedVersion, payload);
      return checkShape(def, storedVersion, payload);
    },
    definition: (type) => byType.get(type),
    has: (type) => byType.has(type),
    types: () => [...byType.keys()],
  };
}
