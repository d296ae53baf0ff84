// Which of the broker's channel closes are the message's failure (counted against its row, so that a
// message the broker never takes reaches the dead letters) and which are the bus's state (no attempt).
import { describe, expect, it } from "vitest";
import { refusedChannel } from "./bus";
import { BUS_REFUSED } from "./outbox";

/** A channel close as amqplib reports it: the reply code on the error. */
const closed = (code: number | undefined, text: string) => Object.assign(new Error(`Channel closed by server: ${code} (${text}) with message "${text} - ..."`), { code });

describe("a channel the broker closed", () => {
  it.each([
    [403, "ACCESS-REFUSED"],
    [404, "NOT-FOUND"],
    [320, "CONNECTION-FORCED"],
    [530, "NOT-ALLOWED"],
    [506, "RESOURCE-ERROR"],
    [541, "INTERNAL-ERROR"],
  ])("over the publisher or its exchange (%i %s) is the bus's state, named for the broker's reason", (code, text) => {
    const error = refusedChannel(closed(code, text));
    expect(error.name).toBe(BUS_REFUSED);
    expect(error.message).toContain(text);
  });

  it.each([
    [406, "PRECONDITION-FAILED"],
    [502, "SYNTAX-ERROR"],
    [undefined, "no code"],
  ])("for any other reason (%s %s: a message too large, say) stays the message's failure", (code, text) => {
    expect(refusedChannel(closed(code, text)).name).toBe("BrokerChannelClosed");
  });
});
