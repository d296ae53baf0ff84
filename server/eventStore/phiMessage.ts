// For consumers of the bus (emr.events): messages carry an event's PHI sealed, exactly as the
// store holds it (an `$phi` envelope: key id = the patient, AES-256-GCM). A consumer that needs
// the PHI and is trusted with the master key opens it here; one that does not (routing, counts,
// statuses) never touches keys. After a patient's erasure their messages still in a queue can
// no longer be opened: the fields read PHI_ERASED.
//
//   import { openSealedPayload } from "emr/server/eventStore/phiMessage";
//   const body = JSON.parse(msg.content.toString());
//   const data = await openSealedPayload(body.type, body.data, { sql, ring }, body);
//   // body: the message's streamId and eventId, which the seal of an event appended since
//   // envelope format 2 binds (one moved to another event fails authentication)
//   // body.metadata.schemaVersion is the payload's stored version (upcast with the registry if needed)
import type { SqlRunner } from "./db";
import { envelopeOf, eventContext, openFields, subjectsOf, type EventPlace, type KeyRing } from "./phi";

/** The payload with its PHI in place (or PHI_ERASED); throws PhiAuthenticationError on a tampered one. */
export async function openSealedPayload(
  eventType: string,
  data: unknown,
  keys: { sql: SqlRunner; ring: KeyRing },
  place?: Partial<EventPlace>,
): Promise<Record<string, unknown>> {
  const env = envelopeOf(data);
  if (!env) return data as Record<string, unknown>;
  const context = eventContext(eventType, env, place);
  await keys.ring.prepare(keys.sql, subjectsOf([data]));
  return openFields(keys.ring, data, context).data;
}
