// Appends wake workers: in-process at once, and across connections through LISTEN/NOTIFY sent
// after the commit.
import { setTimeout as sleep } from "node:timers/promises";
import { expect, it } from "vitest";
import { appendToStream, storeIn } from "../eventStore";
import { describeEachDatabase, describePostgres, pgUrl } from "../testing/db";
import { newStreamId, note, storeOf } from "../testing/events";
import { announceAppends, isOutsideTransaction, listenForAppends, onAppended, wakeableSleep } from "./wakeup";

describeEachDatabase("append wake-up in one process", (db) => {
  it("calls local listeners after an append outside a transaction, not inside one", async () => {
    announceAppends(db());
    let calls = 0;
    const off = onAppended(() => calls++);
    try {
      await appendToStream(storeOf(db()), newStreamId(), [note(1)], { expectedVersion: "no_stream", aggregateType: "note" });
      expect(calls).toBe(1);
      expect(isOutsideTransaction(db().prisma)).toBe(true);
      await db().prisma.$transaction(async (tx) => {
        expect(isOutsideTransaction(tx)).toBe(false);
        await appendToStream(storeIn(storeOf(db()), tx), newStreamId(), [note(2)], { expectedVersion: "no_stream", aggregateType: "note" });
      });
      expect(calls).toBe(1);
    } finally {
      off();
    }
  });

  it("a wakeable sleep ends at the next append, and a poke while busy makes the next sleep return at once", async () => {
    announceAppends(db());
    const wake = wakeableSleep();
    const signal = new AbortController().signal;
    try {
      const started = performance.now();
      const sleeping = wake.sleep(10_000, signal);
      await appendToStream(storeOf(db()), newStreamId(), [note(1)], { expectedVersion: "no_stream", aggregateType: "note" });
      await sleeping;
      expect(performance.now() - started).toBeLessThan(5_000);
      wake.poke();
      const again = performance.now();
      await wake.sleep(10_000, signal);
      expect(performance.now() - again).toBeLessThan(100);
    } finally {
      wake.close();
    }
  });
});

describePostgres("append wake-up across processes", (db) => {
  it("a listener on another connection is woken by NOTIFY after an append", async () => {
    announceAppends(db());
    const listener = listenForAppends(pgUrl!);
    try {
      // The listener wakes once when it starts listening; wait for that, then count.
      await sleep(500);
      let woken = 0;
      const off = onAppended(() => woken++);
      // The direct call arrives at once; the NOTIFY comes back through the listening connection.
      await appendToStream(storeOf(db()), newStreamId(), [note(1)], { expectedVersion: "no_stream", aggregateType: "note" });
      const direct = woken;
      for (let i = 0; i < 50 && woken <= direct; i++) await sleep(20);
      off();
      expect(direct).toBe(1);
      expect(woken).toBeGreaterThan(direct);
    } finally {
      await listener.close();
    }
  });
});
