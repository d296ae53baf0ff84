// What an admin can do about an outbox dead letter, each recorded as an operations event (who,
// when, why) in the same transaction as the change to the row, so the audit log shows it:
// - retry: back in line from the stage it failed in, attempts from zero;
// - set aside: the record's later events go on without it. A dead letter holds the later events of
//   its record (the bus keeps each record's order), so one that can never succeed (a handler's bug
//   on this event, a message the broker always refuses) held them for good, and the only way out
//   was an UPDATE by hand. Failed in the handlers, it goes on to the bus without them; failed at
//   the bus, it is never published (consumers of emr.events never receive it).
import { randomUUID } from "node:crypto";
import { appendToStream, type Store } from "../eventStore";
import { NotFoundError } from "../errors";
import { deadLetterStream, OPERATIONS_AGGREGATE, OutboxDeadLetterRetried, OutboxDeadLetterSetAside } from "../domain/operations/events";
import { PUBLISHER_FRESH_SECONDS } from "./outbox";

export type Who = { userId: string; correlationId: string };
type Letter = { id: bigint | string | number; event_id: string; event_type: string; handled: boolean; attempts: number; last_error: string | null };

// The row as it was before the change (a CTE's FROM sees the statement's snapshot), locked by it.
const before = `WITH letter AS (
  SELECT id, event_id, event_type, handled_at IS NOT NULL AS handled, attempts, last_error FROM outbox
   WHERE id = $1 AND dead_lettered_at IS NOT NULL AND processed_at IS NULL FOR UPDATE)`;
const returning = `RETURNING letter.id, letter.event_id::text AS event_id, letter.event_type, letter.handled, letter.attempts, letter.last_error`;

async function recorded(store: Store, id: number, change: (tx: Store) => Promise<Letter[]>, event: (letter: Letter) => { type: string; data: Record<string, unknown> }, who: Who) {
  const run = async (tx: Store) => {
    const [letter] = await change(tx);
    if (!letter) throw new NotFoundError("dead letter", String(id));
    const { type, data } = event(letter);
    await appendToStream(
      tx,
      deadLetterStream(letter.event_id),
      [{ type, data, eventId: randomUUID(), occurredAt: new Date(), userId: who.userId, correlationId: who.correlationId, causationId: letter.event_id }],
      { expectedVersion: "any", aggregateType: OPERATIONS_AGGREGATE },
    );
    return { id, stage: letter.handled ? ("bus" as const) : ("handlers" as const) };
  };
  return store.transaction ? store.transaction(run) : run(store);
}

const facts = (letter: Letter) => ({
  outboxId: Number(letter.id),
  eventId: letter.event_id,
  eventType: letter.event_type,
  stage: letter.handled ? ("bus" as const) : ("handlers" as const),
  attempts: letter.attempts,
  lastError: letter.last_error?.slice(0, 500) ?? null,
});

/** Back in line: from the stage it failed in, attempts from zero. */
export function retryDeadLetter(store: Store, id: number, who: Who) {
  return recorded(
    store,
    id,
    (tx) =>
      tx.sql<Letter>(
        `${before}
         UPDATE outbox o SET dead_lettered_at = NULL, next_retry_at = now(), attempts = 0 FROM letter WHERE o.id = letter.id
         ${returning}`,
        [id],
      ),
    (letter) => ({ type: OutboxDeadLetterRetried.type, data: OutboxDeadLetterRetried.schema.parse(facts(letter)) }),
    who,
  );
}

/**
 * Set aside, for a reason. Failed in the handlers: handled (their work for it is not done), then
 * published like any other row, or finished at once where no worker publishes. Failed at the bus:
 * finished without publishing; the row keeps its dead-letter time, so it stays told apart from
 * rows that went out, until retention prunes it (the operations event stays).
 */
export function setAsideDeadLetter(store: Store, id: number, reason: string, who: Who) {
  return recorded(
    store,
    id,
    (tx) =>
      tx.sql<Letter>(
        `${before}
         UPDATE outbox o SET
           handled_at = coalesce(o.handled_at, now()),
           dead_lettered_at = CASE WHEN letter.handled THEN o.dead_lettered_at END,
           attempts = CASE WHEN letter.handled THEN o.attempts ELSE 0 END,
           last_error = CASE WHEN letter.handled THEN o.last_error END,
           next_retry_at = now(),
           processed_at = CASE WHEN letter.handled
                                 OR NOT EXISTS (SELECT 1 FROM outbox_publishers WHERE seen_at > now() - $2::integer * interval '1 second')
                               THEN now() END
          FROM letter WHERE o.id = letter.id
         ${returning}`,
        [id, PUBLISHER_FRESH_SECONDS],
      ),
    (letter) => ({ type: OutboxDeadLetterSetAside.type, data: OutboxDeadLetterSetAside.schema.parse({ ...facts(letter), reason }) }),
    who,
  );
}
