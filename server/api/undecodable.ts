// Reading the log for people (the audit views, a record's history): a stored event this build
// cannot decode (an unknown type, a payload that fails today's schema) is shown as stored, with
// a warning, instead of failing the whole page. It is still a server fault: logged (type and
// version, never the payload) and counted. Commands and projections keep decoding strictly: they
// must not act on what they cannot read.
import { EventDecodeError, UnknownEventTypeError, type Store } from "../eventStore";
import { PhiAuthenticationError } from "../eventStore/phi";
import { faultCounts } from "./faults";
import { componentLogger } from "../log";

/** Raw payloads handed out in place of decoded ones, with why they could not be decoded. */
const undecodable = new WeakMap<object, string>();

/** Why this payload (from a store made by `tolerantStore`) is shown raw, or null when it decoded. */
export function undecodableReason(data: unknown): string | null {
  return typeof data === "object" && data !== null ? (undecodable.get(data) ?? null) : null;
}

/** The one log line of an undecodable event: no payload, no issue text (it can quote values). */
export function logUndecodable(where: { procedure: string; correlationId: string }, eventType: string, schemaVersion: number, kind: string): void {
  faultCounts.undecodableEvents++;
  const type = eventType.slice(0, 100);
  componentLogger("api").error(
    { fault: "undecodable event", procedure: where.procedure, correlationId: where.correlationId, eventType: type, schemaVersion, reason: kind },
    `[fault] ${where.procedure} correlation=${where.correlationId} undecodable event type=${JSON.stringify(type)} v${schemaVersion} (${kind})`,
  );
}

/** The store, with a registry that returns what it cannot decode as stored (see undecodableReason). */
export function tolerantStore(store: Store, where: { procedure: string; correlationId: string }): Store {
  const registry = store.registry;
  return {
    ...store,
    registry: {
      ...registry,
      decode(eventType, storedVersion, data, open) {
        try {
          return registry.decode(eventType, storedVersion, data, open);
        } catch (error) {
          const unknownType = error instanceof UnknownEventTypeError;
          const tampered = error instanceof PhiAuthenticationError;
          if (!unknownType && !tampered && !(error instanceof EventDecodeError)) throw error;
          logUndecodable(where, eventType, storedVersion, unknownType ? "unknown type" : tampered ? "PHI failed authentication" : "does not match its schema");
          // A fresh object per row, so the reason attaches to this event only.
          const raw: Record<string, unknown> =
            typeof data === "object" && data !== null && !Array.isArray(data) ? { ...(data as Record<string, unknown>) } : { value: data };
          undecodable.set(
            raw,
            unknownType
              ? `"${eventType}" is not an event type this version of the system knows`
              : tampered
                ? "its encrypted patient data failed authentication: the stored ciphertext was altered (shown as stored, sealed)"
                : `stored as schema v${storedVersion}, it does not match this version's schema: ${(error as EventDecodeError).issues}`,
          );
          return raw;
        }
      },
    },
  };
}
