// For consumers of the bus (emr.events): messages carry an event's PHI sealed, exactly as the
// store holds it (an `$phi` envelope: key id = the patient, AES-256-GCM). A consumer that needs
// the PHI and is trusted with the master key opens it here; one that does not (routing, counts,
// statuses) never touches keys. After a patient's erasure their messages still in a queue can
// no longer be opened: the fields read PHI_ERASED.
//
//   import { openSealedPayload } from "emr/server/eventStore/phiMessage";
//   const body = JSON.parse(msg.content.toString());
//   const data = await openSealedPayload(body.type, body.data, { sql, ring });
//   // body.metadata.schemaVersion is the payload's stored version (upcast with the registry if needed)
import type { SqlRunner } from "./db";
import { openFields, subjectsOf, type KeyRing } from "./phi";

/** The payload with its PHI in place (or PHI_ERASED); throws PhiAuthenticationError on a tampered one. */
export async function openSealedPayload(eventType: string, data: unknown, keys: { sql: SqlRunner; ring: KeyRing }): Promise<Record<string, unknown>> {
  const subjects = subjectsOf([data]);
  if (subjects.size > 0) await keys.ring.prepare(keys.sql, subjects);
  return openFields(keys.ring, data, eventType).data;
}
