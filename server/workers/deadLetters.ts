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
import { InvariantError, NotFoundError } from "../errors";
import { deadLetterStream, OPERATIONS_AGGREGATE, OutboxDeadLetterRetried, OutboxDeadLetterSetAside } from "../domain/operations/events";

export type Who = { userId: string; correlationId: string };
type Letter = { id: bigint | string | number; event_id: string; event_type: string; handled: boolean; attempts: number; last_error: string | null };

export type Stage = "handlers" | "bus";

/**
 * Changes one dead letter (`set`: the UPDATE's SET list over outbox o, with the row as it was in
 * `letter`) and records `event` of it, in one transaction. The row as it was is
 * read in a CTE (which sees the statement's snapshot), locked by it: of two admins at once, the
 * second finds no dead letter, is told NOT_FOUND and records nothing. `stage`, when given, is the
 * stage the admin was shown: a letter that has failed in the other one since (retried by another
 * admin, then failed anew) is left as it is, and the admin told so.
 */
async function recorded(
  store: Store,
  id: number,
  stage: Stage | null,
  set: string,
  event: (letter: Letter) => { type: string; data: Record<string, unknown> },
  who: Who,
) {
  const run = async (tx: Store) => {
    const [letter] = await tx.sql<Letter>(
      `WITH letter AS (
         SELECT id, event_id, event_type, handled_at IS NOT NULL AS handled, attempts, last_error FROM outbox
          WHERE id = $1 AND dead_lettered_at IS NOT NULL AND processed_at IS NULL
            AND ($2::text IS NULL OR (handled_at IS NOT NULL) = ($2::text = 'bus')) FOR UPDATE)
       UPDATE outbox o SET ${set} FROM letter WHERE o.id = letter.id
       RETURNING letter.id, letter.event_id::text AS event_id, letter.event_type, letter.handled, letter.attempts, letter.last_error`,
      [id, stage],
    );
    if (!letter) {
      const [other] = stage
        ? await tx.sql<{ id: unknown }>(`SELECT id FROM outbox WHERE id = $1 AND dead_lettered_at IS NOT NULL AND processed_at IS NULL`, [id])
        : [];
      if (other) {
        throw new InvariantError(
          stage === "handlers"
            ? `dead letter ${id} has failed at the message bus since this page was loaded (not in the handlers): set aside now, it would never be published; look at it again`
            : `dead letter ${id} has failed in the in-process handlers since this page was loaded (not at the message bus): look at it again`,
          "dead_letter_stage",
        );
      }
      throw new NotFoundError("dead letter", String(id));
    }
    const { type, data } = event(letter);
    await appendToStream(
      tx,
      deadLetterStream(letter.event_id),
      [{ type, data, eventId: randomUUID(), occurredAt: new Date(), userId: who.userId, correlationId: who.correlationId, causationId: letter.event_id }],
      { expectedVersion: "any", aggregateType: OPERATIONS_AGGREGATE },
    );
    return { id, stage: stageOf(letter) };
  };
  return store.transaction ? store.transaction(run) : run(store);
}

const stageOf = (letter: Letter): Stage => (letter.handled ? "bus" : "handlers");

const facts = (letter: Letter) => ({
  outboxId: Number(letter.id),
  eventId: letter.event_id,
  eventType: letter.event_type,
  stage: stageOf(letter),
  attempts: letter.attempts,
  lastError: letter.last_error?.slice(0, 500) ?? null,
});

/** Back in line: from the stage it failed in, attempts from zero. */
export function retryDeadLetter(store: Store, id: number, who: Who) {
  return recorded(
    store,
    id,
    null,
    "dead_lettered_at = NULL, next_retry_at = now(), attempts = 0",
    (letter) => ({ type: OutboxDeadLetterRetried.type, data: OutboxDeadLetterRetried.schema.parse(facts(letter)) }),
    who,
  );
}

/**
 * Set aside, for a reason, if it still failed in `stage`, the one the admin was shown: what setting
 * aside does depends on it. Failed in the handlers: handled (their work for it is not done), then
 * published like any other row; where no worker publishes, a worker without a bus finishes it
 * (its sweep of handled rows, every 30 s). Finished here when no publisher had been seen for five
 * minutes, it was never published if the publishing workers were only down (a crash, a long
 * deploy) when the admin acted: the web process cannot tell that from a deployment without a bus,
 * and the workers, which decide it for every other row, can. Failed at the bus:
 * finished without publishing; the row keeps its dead-letter time, so it stays told apart from
 * rows that went out, until retention prunes it (the operations event stays).
 */
export function setAsideDeadLetter(store: Store, id: number, stage: Stage, reason: string, who: Who) {
  return recorded(
    store,
    id,
    stage,
    `handled_at = coalesce(o.handled_at, now()),
     dead_lettered_at = CASE WHEN letter.handled THEN o.dead_lettered_at END,
     attempts = CASE WHEN letter.handled THEN o.attempts ELSE 0 END,
     last_error = CASE WHEN letter.handled THEN o.last_error END,
     next_retry_at = now(),
     processed_at = CASE WHEN letter.handled THEN now() END`,
    (letter) => ({ type: OutboxDeadLetterSetAside.type, data: OutboxDeadLetterSetAside.schema.parse({ ...facts(letter), reason }) }),
    who,
  );
}
