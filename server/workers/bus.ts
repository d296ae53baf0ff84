// The external bus: RabbitMQ through amqplib, with publisher confirms. Events go to the durable
// topic exchange `emr.events` under `<aggregateType>.<eventType>`, persistent, with the event
// id as messageId (consumers dedupe by it: delivery is at-least-once). Everything a consumer
// routes or orders by is in clear properties and headers (never PHI: ids, types, versions,
// positions, times); the payload travels as stored.
import amqp, { type ChannelModel, type ConfirmChannel, type Options } from "amqplib";
import type { StoredEvent } from "../eventStore";
import { componentLogger } from "../log";
import { storedFormOf } from "../eventStore/protect";
import { BUS_REFUSED, CHANNEL_CLOSED, CONFIRM_TIMEOUT, CONNECTION_LOST, type Bus } from "./outbox";

export const EVENTS_EXCHANGE = "emr.events";

export function routingKeyOf(event: Pick<StoredEvent, "aggregateType" | "type">): string {
  return `${event.aggregateType}.${event.type}`;
}

/** The message body: the event and its metadata, as JSON. */
export function messageOf(event: StoredEvent) {
  return {
    eventId: event.metadata.eventId,
    type: event.type,
    aggregateType: event.aggregateType,
    streamId: event.streamId,
    version: event.version,
    globalPosition: event.globalPosition,
    // As stored, at metadata.schemaVersion (never upcast here: a consumer lifts older versions
    // itself, from the schema registry), with PHI sealed: a consumer that needs it opens it with
    // openSealedPayload (server/eventStore/phiMessage.ts); erasure reaches queued copies too.
    data: storedFormOf(event.data) ?? event.data,
    metadata: event.metadata,
  };
}

/** The message's AMQP properties: what a consumer can route, order and dedupe by without the body. */
export function propertiesOf(event: StoredEvent): Options.Publish {
  return {
    persistent: true,
    messageId: event.metadata.eventId,
    correlationId: event.metadata.correlationId,
    type: event.type,
    // AMQP timestamps are whole seconds; the body's metadata.recordedAt has the milliseconds.
    timestamp: Math.floor(event.metadata.recordedAt.getTime() / 1000),
    contentType: "application/json",
    contentEncoding: "utf-8",
    appId: "emr",
    headers: {
      "x-aggregate-type": event.aggregateType,
      "x-stream-id": event.streamId,
      "x-event-version": event.version,
      "x-global-position": event.globalPosition,
      "x-schema-version": event.metadata.schemaVersion,
      "x-correlation-id": event.metadata.correlationId,
      "x-causation-id": event.metadata.causationId,
    },
  };
}

export type RabbitBusOptions = {
  exchange?: string;
  /** How long a publish waits for the broker's confirm before it fails (default 15 s). */
  confirmTimeoutMs?: number;
  /** How long opening a connection may take, TCP and AMQP handshake (default 10 s). */
  connectTimeoutMs?: number;
};

/** The AMQP heartbeat (seconds) when AMQP_URL names none: a silent broker is noticed within ~2x. */
const DEFAULT_HEARTBEAT_S = 15;

function withHeartbeat(url: string): string {
  try {
    const u = new URL(url);
    if (!u.searchParams.has("heartbeat")) u.searchParams.set("heartbeat", String(DEFAULT_HEARTBEAT_S));
    return u.toString();
  } catch {
    return url;
  }
}

/** A publish that failed because the connection is gone: the outbox counts no attempt for it. */
function lost(message: string, cause: unknown): Error {
  return Object.assign(new Error(message, { cause }), { name: CONNECTION_LOST });
}

/**
 * AMQP reply codes with which a broker closes a channel over this publisher or its exchange, not
 * over the message: 320 connection-forced, 403 access-refused (the user's write permission taken
 * away, or not yet given while a deploy sets users up), 404 not-found (the exchange deleted; the
 * next connection declares it again), 506 resource-error, 530 not-allowed, 541 internal-error.
 * Counted as the messages' failure, each such close cost every row in flight a try, and a
 * permission missing for half a minute dead-lettered the head of every stream being published,
 * each then waiting for an admin. Any other code (406 precondition-failed: a message larger than
 * max_message_size) may be the message's doing, and stays its failure, so that a message the
 * broker never takes reaches the dead letters instead of stopping the bus.
 */
const REFUSES_THE_PUBLISHER = new Set([320, 403, 404, 506, 530, 541]);

/** The broker closed the channel, and said why (its words: codes and names, no message content). */
export function refusedChannel(reason: Error): Error {
  const code = (reason as { code?: unknown }).code;
  const name = typeof code === "number" && REFUSES_THE_PUBLISHER.has(code) ? BUS_REFUSED : CHANNEL_CLOSED;
  return Object.assign(new Error(`RabbitMQ closed the channel: ${errorMessage(reason)}`, { cause: reason }), { name });
}

const errorMessage = (error: unknown) => (error instanceof Error ? error.message : String(error)).split("\n")[0]!.slice(0, 160);

/** Ends a connection without the close handshake a broker that stopped answering never completes. */
function abandon(connection: ChannelModel): void {
  connection.close().catch(() => {});
  (connection.connection as unknown as { stream?: { destroy?: () => void } }).stream?.destroy?.();
}

/**
 * A bus on AMQP_URL. Connects on first use; when the connection or channel closes or fails, the
 * next call connects again (the outbox retries whatever was not confirmed). A confirm that does
 * not come within confirmTimeoutMs fails the publish and drops the connection: a broker that
 * stopped answering (network black hole, a wedged node) otherwise held a batch for minutes, until
 * TCP or heartbeats gave up, with nothing logged.
 */
export function rabbitBus(url: string, options: RabbitBusOptions = {}): Bus {
  const exchange = options.exchange ?? EVENTS_EXCHANGE;
  const confirmTimeoutMs = options.confirmTimeoutMs ?? 15_000;
  const connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
  const log = componentLogger("bus");
  // closed: the channel has closed (set in its close event, after amqplib has failed the publishes
  // still waiting for their confirms with an error of its own). closedByBroker: the broker closed
  // the channel itself, saying why (its error event comes first), as it does for a message it will
  // not take (larger than max_message_size) or an exchange gone; not a lost connection.
  type Session = { connection: ChannelModel; channel: ConfirmChannel; closed: boolean; closedByBroker?: Error };
  let current: Promise<Session> | null = null;

  function connect() {
    const opening = (async () => {
      const connection = await amqp.connect(withHeartbeat(url), { timeout: connectTimeoutMs });
      try {
        const forget = () => {
          if (current === opening) current = null;
        };
        // Errors are followed by close; listening keeps them from crashing the process.
        connection.on("error", () => {});
        connection.on("close", forget);
        const channel = await connection.createConfirmChannel();
        const session: Session = { connection, channel, closed: false };
        channel.on("error", (error: Error) => void (session.closedByBroker ??= error));
        channel.on("close", () => {
          session.closed = true;
          forget();
          // A channel closed by the broker leaves the connection open: drop it too.
          connection.close().catch(() => {});
        });
        await channel.assertExchange(exchange, "topic", { durable: true });
        return session;
      } catch (error) {
        await connection.close().catch(() => {});
        throw error;
      }
    })();
    current = opening;
    // A failed attempt is not cached: the next call tries again.
    opening.catch(() => {
      if (current === opening) current = null;
    });
    return opening;
  }

  const session = () => current ?? connect();

  return {
    async ready() {
      await session();
    },
    async publish(event) {
      const open = session();
      // A connection lost since the claim and not to be had again: the broker's state, not the message's.
      const live = await open.catch((error: unknown) => {
        throw lost(`no connection to RabbitMQ: ${errorMessage(error)}`, error);
      });
      const { connection, channel } = live;
      const content = Buffer.from(JSON.stringify(messageOf(event)));
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve, reject) => {
        timer = setTimeout(() => {
          // Every publish of the batch times out together: drop and log once per connection.
          if (current === open) {
            current = null;
            log.warn({ confirmTimeoutMs, eventId: event.metadata.eventId }, "no publisher confirm from RabbitMQ in time; dropping the connection (the outbox retries unconfirmed events)");
            abandon(connection);
          }
          // Named: the broker's silence, not the message's fault (the outbox counts no attempt).
          reject(Object.assign(new Error(`no publisher confirm from RabbitMQ within ${confirmTimeoutMs} ms`), { name: CONFIRM_TIMEOUT }));
        }, confirmTimeoutMs);
        try {
          channel.publish(
            exchange,
            routingKeyOf(event),
            content,
            propertiesOf(event),
            (error) => {
              if (!error) return resolve();
              // amqplib also fails the publishes still unconfirmed when the channel closes, with an
              // error like a nack's, and then emits close, which marks the session (same tick, so
              // looked at a microtask later). A lost connection is the bus's state: taken for a
              // refusal, every cut or broker restart cost each row in flight a try, under a false
              // reason, and five dead-lettered the head of every stream being published. A channel
              // the broker closed with a reason stays the rows' failure: the message may be the
              // cause, and one the broker never takes must reach the dead letters, not stop the bus.
              queueMicrotask(() =>
                live.closedByBroker
                  ? reject(refusedChannel(live.closedByBroker))
                  : live.closed
                    ? reject(lost("the connection to RabbitMQ was lost before the broker confirmed the message", error))
                    : // A nack carries no reason: name the likely ones for the admin's dead-letter list.
                      reject(Object.assign(new Error(`RabbitMQ refused the message (nack): a queue bound for ${routingKeyOf(event)} is full (reject-publish) or could not store it`), { name: "BrokerNack" })),
              );
            },
          );
        } catch (error) {
          // amqplib refuses a publish on a channel that has closed or is closing.
          if (live.closedByBroker) reject(refusedChannel(live.closedByBroker));
          else if (live.closed || (error as { name?: unknown } | null)?.name === "IllegalOperationError") reject(lost("the connection to RabbitMQ was lost", error));
          else reject(error);
        }
      }).finally(() => clearTimeout(timer));
    },
    async close() {
      const open = current;
      current = null;
      if (!open) return;
      try {
        const { connection } = await open;
        // The close handshake, unless the broker has stopped answering: then just the socket.
        let timer: NodeJS.Timeout | undefined;
        const closed = await Promise.race([
          connection.close().then(() => true),
          new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), 2_000))),
        ]).finally(() => clearTimeout(timer));
        if (!closed) abandon(connection);
      } catch {
        // Already closed or never opened.
      }
    },
  };
}
