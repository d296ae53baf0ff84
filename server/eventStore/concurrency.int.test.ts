// The store's guarantees under real concurrency: several connections, real PostgreSQL.
import { expect, it } from "vitest";
import { ConcurrencyError } from "../errors";
import { describePostgres } from "../testing/db";
import { newStreamId, note, storeOf } from "../testing/events";
import { appendToStream } from "./append";
import { storeIn } from "./db";
import { readAll, readStream, streamVersion } from "./read";
import type { LogCheckpoint, StoredEvent } from "./types";

describePostgres("event store under concurrency", (db) => {
  const store = () => storeOf(db());

  it("50 concurrent appends with the same expected version: exactly one wins", async () => {
    const id = newStreamId();
    await appendToStream(store(), id, [note(0)], { expectedVersion: "no_stream", aggregateType: "note" });
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, (_, i) => appendToStream(store(), id, [note(i + 1)], { expectedVersion: 1, aggregateType: "note" })),
    );
    const won = results.filter((r) => r.status === "fulfilled");
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(49);
    for (const r of lost) {
      expect(r.reason).toBeInstanceOf(ConcurrencyError);
      expect(r.reason).toMatchObject({ streamId: id, expectedVersion: 1, actualVersion: 2 });
    }
    expect(await streamVersion(store(), id)).toBe(2);
    expect((await readStream(store(), id)).map((e) => e.version)).toEqual([1, 2]);
  });

  it("50 concurrent creations of one stream (no_stream): exactly one wins", async () => {
    const id = newStreamId();
    const results = await Promise.allSettled(
      Array.from({ length: 50 }, (_, i) => appendToStream(store(), id, [note(i)], { expectedVersion: "no_stream", aggregateType: "note" })),
    );
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    expect(results.filter((r) => r.status === "rejected" && r.reason instanceof ConcurrencyError)).toHaveLength(49);
    expect(await readStream(store(), id)).toHaveLength(1);
  });

  it("20 concurrent appends with 'any' to a stream that does not exist yet: all land, versions 1..20", async () => {
    const id = newStreamId();
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => appendToStream(store(), id, [note(i)], { expectedVersion: "any", aggregateType: "note" })),
    );
    expect(results.map((r) => r.nextExpectedVersion).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect((await readStream(store(), id)).map((e) => e.version)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(await streamVersion(store(), id)).toBe(20);
  });

  it("20 writers x 100 appends on distinct streams: every event stored once, positions unique", async () => {
    const streams = Array.from({ length: 20 }, () => newStreamId("note-writer"));
    const written = await Promise.all(
      streams.map(async (id) => {
        const ids: string[] = [];
        for (let i = 0; i < 100; i++) {
          const event = note(i);
          ids.push(event.eventId);
          await appendToStream(store(), id, [event], { expectedVersion: i === 0 ? "no_stream" : i, aggregateType: "note" });
        }
        return ids;
      }),
    );
    const positions = new Set<number>();
    for (const [k, id] of streams.entries()) {
      const events = await readStream(store(), id);
      expect(events.map((e) => e.version)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
      expect(events.map((e) => e.metadata.eventId)).toEqual(written[k]);
      for (const e of events) positions.add(e.globalPosition);
    }
    expect(positions.size).toBe(2000);
    const counted = await db().prisma.$queryRawUnsafe<{ n: bigint }[]>(
      "SELECT count(*) AS n FROM events WHERE stream_id = ANY ($1::text[])",
      streams,
    );
    expect(Number(counted[0]!.n)).toBe(2000);
  });

  it("a reader never skips an event whose transaction took a lower position but committed later", { timeout: 150_000 }, async () => {
    const seen: StoredEvent[] = [];
    let checkpoint: LogCheckpoint | null = null;
    const poll = async () => {
      for (;;) {
        const page = await readAll(store(), { after: checkpoint, limit: 1000 });
        seen.push(...page.events);
        checkpoint = page.checkpoint;
        if (page.events.length < 1000) return;
      }
    };
    await poll(); // catch up with everything committed before this test

    const slow = newStreamId("note-slow");
    const fast = newStreamId("note-fast");
    let releaseA!: () => void;
    const aMayCommit = new Promise<void>((r) => (releaseA = r));
    let aWrote!: () => void;
    const aHasWritten = new Promise<void>((r) => (aWrote = r));
    let aPosition = 0;

    const connectionA = db().prisma.$transaction(
      async (tx) => {
        const result = await appendToStream(storeIn(store(), tx), slow, [note(1)], { expectedVersion: "no_stream", aggregateType: "note" });
        aPosition = result.events[0]!.globalPosition;
        aWrote();
        await aMayCommit;
      },
      { timeout: 30_000 },
    );
    await aHasWritten;
    const b = await appendToStream(store(), fast, [note(2)], { expectedVersion: "no_stream", aggregateType: "note" });
    expect(b.events[0]!.globalPosition).toBeGreaterThan(aPosition);

    // B is committed, A is not: the reader must not move past A's place.
    await poll();
    await poll();
    expect(seen.some((e) => e.streamId === fast)).toBe(false);

    releaseA();
    await connectionA;
    // The server is shared: another database's or test's transaction may still hold the horizon
    // back for a moment. Poll until both are read (never read once and conclude).
    const deadline = Date.now() + 90_000;
    while (seen.filter((e) => e.streamId === slow || e.streamId === fast).length < 2 && Date.now() < deadline) {
      await poll();
      await new Promise((r) => setTimeout(r, 50));
    }
    const ours = seen.filter((e) => e.streamId === slow || e.streamId === fast);
    expect(ours.map((e) => e.streamId)).toEqual([slow, fast]);
    // And nothing was read twice.
    expect(new Set(seen.map((e) => e.globalPosition)).size).toBe(seen.length);
  });
}, 25);
