// The external bus: RabbitMQ through amqplib, with publisher confirms. Events go to the durable
// topic exchange `emr.events` under `<aggregateType>.<eventType>`, persistent, with the event
// id as messageId (consumers dedupe by it: delivery is at-least-once).
import amqp, { type ChannelModel, type ConfirmChannel } from "amqplib";
import type { StoredEvent } from "../eventStore";
import { sealedFormOf } from "../eventStore/protect";
import type { Bus } from "./outbox";

export const EVENTS_EXCHANGE = "emr.events";

export function routingKeyOf(event: Pick<StoredEvent, "aggregateType" | "type">): string {
  return `${event.aggregateType}.${event.type}`;
}

/** The message body: the event and its metadata, as JSON. */
export function messageOf(event: StoredEvent) {
  return {
    eventId: event.metadata.eventId,
    type: event.type,
    streamId: event.streamId,
    version: event.version,
    globalPosition: event.globalPosition,
    // PHI travels sealed, as stored (at metadata.schemaVersion): a consumer that needs it opens it
    // with openSealedPayload (server/eventStore/phiMessage.ts); erasure reaches queued copies too.
    data: sealedFormOf(event.data) ?? event.data,
    metadata: event.metadata,
  };
}

/**
 * A bus on AMQP_URL. Connects on first use; when the connection or channel closes or fails, the
 * next call connects again (the outbox retries whatever was not confirmed).
 */
export function rabbitBus(url: string, options: { exchange?: string } = {}): Bus {
  const exchange = options.exchange ?? EVENTS_EXCHANGE;
  let current: Promise<{ connection: ChannelModel; channel: ConfirmChannel }> | null = null;

  function connect() {
    const opening = (async () => {
      const connection = await amqp.connect(url);
      try {
        const forget = () => {
          if (current === opening) current = null;
        };
        // Errors are followed by close; listening keeps them from crashing the process.
        connection.on("error", () => {});
        connection.on("close", forget);
        const channel = await connection.createConfirmChannel();
        channel.on("error", () => {});
        channel.on("close", () => {
          forget();
          // A channel closed by the broker leaves the connection open: drop it too.
          connection.close().catch(() => {});
        });
        await channel.assertExchange(exchange, "topic", { durable: true });
        return { connection, channel };
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
      const { channel } = await session();
      const content = Buffer.from(JSON.stringify(messageOf(event)));
      await new Promise<void>((resolve, reject) => {
        try {
          channel.publish(
            exchange,
            routingKeyOf(event),
            content,
            {
              persistent: true,
              messageId: event.metadata.eventId,
              correlationId: event.metadata.correlationId,
              type: event.type,
              timestamp: Math.floor(event.metadata.recordedAt.getTime() / 1000),
              contentType: "application/json",
              headers: {
                "x-correlation-id": event.metadata.correlationId,
                "x-causation-id": event.metadata.causationId,
                "x-stream-id": event.streamId,
                "x-event-version": event.version,
              },
            },
            (error) => (error ? reject(error instanceof Error ? error : new Error("message nacked by the broker")) : resolve()),
          );
        } catch (error) {
          reject(error);
        }
      });
    },
    async close() {
      const open = current;
      current = null;
      if (!open) return;
      try {
        const { connection } = await open;
        await connection.close();
      } catch {
        // Already closed or never opened.
      }
    },
  };
}
