// The command pipeline shared by the clinical routers: who (the session's user, never input),
// the correlation id (the server's, one per request), the command id (the client's
// idempotency key, or new) as causation id, snapshots every N events, inline read models.
import { randomUUID } from "node:crypto";
import { z } from "zod";
import { env } from "../db/env";
import {
  handleCommand,
  newCommandId,
  type Decider,
  type DomainEvent,
  type HandleOptions,
  type MetadataExtra,
  type Store,
  uuidFromName,
} from "../eventStore";
import type { SessionUser } from "./context";
import { componentLogger, errorFields } from "../log";
import { appended } from "../workers/wakeup";

/**
 * The id of an aggregate a command creates. Derived from the client's command id when there is
 * one, so a re-sent "register" answers with the patient the first attempt made.
 */
export function newAggregateId(commandId: string | undefined, kind: string): string {
  return commandId ? uuidFromName(`${kind}:${commandId}`) : randomUUID();
}

/** Optional on every command input: a client-made id that makes re-sending the command harmless. */
export const commandIdInput = { commandId: z.uuid().optional() };
/** The stream version the user's screen showed: edits are refused when the record moved on. */
export const expectedVersionInput = z.int().min(1).max(1_000_000_000);

type CommandCtx = { store: Store; user: SessionUser; correlationId: string };

export async function runCommand<C extends { metadata: { now: Date } }, E extends DomainEvent, S>(
  ctx: CommandCtx,
  streamId: string,
  decider: Decider<C, E, S>,
  command: C,
  options: HandleOptions<S> & { commandId?: string; extra?: MetadataExtra } = {},
) {
  const { commandId, extra, ...handle } = options;
  const result = await handleCommand(
    ctx.store,
    streamId,
    decider,
    command,
    { userId: ctx.user.id, correlationId: ctx.correlationId, commandId: commandId ?? newCommandId(), ...(extra ? { extra } : {}) },
    {
      snapshotEvery: env().EVENTSTORE_SNAPSHOT_EVERY,
      checkRepeat: commandId !== undefined,
      // A command that names no version (an allergy or alert added to the chart) is decided
      // again on the newer state when another write got in first: nobody asked for it to be
      // refused over a change it did not depend on. With a version, a conflict is never retried.
      retries: 5,
      onSnapshotError: (error) =>
        componentLogger("snapshots").warn({ aggregateType: decider.aggregateType, correlationId: ctx.correlationId, ...errorFields(error) }, "snapshot not written"),
      ...handle,
    },
  );
  // Appends with inline read models commit with their transaction, after the store returned:
  // wake the workers now that the events are visible.
  if (result.append && !result.repeated) appended(ctx.store.db);
  return result;
}
