// What the outbox publishes to RabbitMQ: an event's PHI sealed as stored, never in clear, which a
// consumer holding the keys opens with openSealedPayload; after an erasure it reads "erased".
import { randomUUID } from "node:crypto";
import { expect, it } from "vitest";
import { eventRegistry } from "../domain/registry";
import { eventExamples } from "../domain/schemaRegistry";
import { appendToStream, eventColumns, selectEvents, storeOn } from "../eventStore";
import { ENVELOPE_KEY, PHI_ERASED, PhiAuthenticationError } from "../eventStore/phi";
import { keyRingOf } from "../eventStore/protect";
import { openSealedPayload } from "../eventStore/phiMessage";
import { destroyDataKey } from "../api/erasure";
import { describeEachDatabase } from "../testing/db";
import { messageOf } from "./bus";

describeEachDatabase("bus messages carry PHI sealed", (db) => {
  it("publishes the sealed payload; the documented helper opens it, and reads erased after an erasure", async () => {
    const store = storeOn(db(), eventRegistry);
    const patientId = randomUUID();
    const data: Record<string, unknown> = { ...eventExamples.PatientRegistered!, patientId, givenName: `Bus${randomUUID().slice(0, 6)}` };
    const eventId = randomUUID();
    await appendToStream(
      store,
      `patient-${patientId}`,
      [{ type: "PatientRegistered", data, eventId, occurredAt: new Date(), userId: "t", correlationId: randomUUID(), causationId: null }],
      { expectedVersion: "no_stream", aggregateType: "patient" },
    );
    // As the outbox worker loads it.
    const [event] = await selectEvents({ ...store, keepSealed: true }, `SELECT ${eventColumns} FROM events WHERE event_id = $1::uuid`, [eventId]);
    expect(event!.data).toMatchObject({ givenName: data.givenName });
    const body = JSON.parse(JSON.stringify(messageOf(event!)));
    expect(JSON.stringify(body)).not.toContain(String(data.givenName));
    expect(JSON.stringify(body)).not.toContain(String(data.mrn));
    expect(body.data).toMatchObject({ patientId, sex: data.sex, [ENVELOPE_KEY]: { v: 2, kid: patientId } });

    const keys = { sql: db().sql, ring: keyRingOf(store) };
    expect(await openSealedPayload(body.type, body.data, keys, body)).toEqual(eventRegistry.encode({ type: "PatientRegistered", data }).data);
    // The seal binds the event's place: the payload read as another event's, or with no place, is refused.
    await expect(openSealedPayload(body.type, body.data, keys, { ...body, eventId: randomUUID() })).rejects.toThrow(PhiAuthenticationError);
    await expect(openSealedPayload(body.type, body.data, keys)).rejects.toThrow(PhiAuthenticationError);

    // As an erasure does: PatientErased in the log, then the key destroyed (the database refuses
    // the second without the first).
    await appendToStream(
      store,
      `patient-${patientId}`,
      [{ type: "PatientErased", data: { patientId, reason: "data subject request", erasedAt: new Date().toISOString() }, eventId: randomUUID(), occurredAt: new Date(), userId: "t", correlationId: randomUUID(), causationId: null }],
      { expectedVersion: 1, aggregateType: "patient" },
    );
    await db().prisma.$transaction((tx) => destroyDataKey(tx, patientId));
    keys.ring.forget(patientId);
    expect(await openSealedPayload(body.type, body.data, keys, body)).toMatchObject({ patientId, givenName: PHI_ERASED, mrn: PHI_ERASED, dateOfBirth: PHI_ERASED });
  });
});
