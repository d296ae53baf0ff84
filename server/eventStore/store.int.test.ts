import { describe, expect, it } from "vitest";
import { randomUUID } from "node:crypto";
import { ConcurrencyError } from "../errors";
import { migrate, migrationStatus } from "../db/migrate";
import { describeEachDatabase, withOwner } from "../testing/db";
import { newStreamId, note, storeOf } from "../testing/events";
import { appendToStream, DuplicateEventError } from "./append";
import {
  readAll,
  readByCausation,
  readByCorrelationId,
  readByTimeRange,
  readByType,
  readStream,
  streamAll,
  streamVersion,
} from "./read";
import type { ExpectedVersion, LogCheckpoint } from "./types";

describeEachDatabase("event store", (db, kind) => {
  const store = () => storeOf(db());
  /** The checkpoint after everything other tests wrote so far. */
  const endOfLog = async () => {
    let checkpoint: LogCheckpoint | null = null;
    for (let page = await readAll(store(), { limit: 10_000 }); ; page = await readAll(store(), { after: checkpoint, limit: 10_000 })) {
      checkpoint = page.checkpoint;
      if (page.events.length === 0) return checkpoint;
    }
  };

  it("appends and reads back a stream with every metadata field", async () => {
    const id = newStreamId();
    const correlationId = randomUUID();
    const first = note(1, { correlationId, extra: { source: "test", retried: false } });
    const second = note(2, { correlationId, causationId: first.eventId, userId: "user-2" });
    const result = await appendToStream(store(), id, [first, second], { expectedVersion: "no_stream", aggregateType: "note" });
    expect(result.repeated).toBe(false);
    expect(result.nextExpectedVersion).toBe(2);
    expect(result.events.map((e) => e.version)).toEqual([1, 2]);
    expect(result.events[1]!.globalPosition).toBeGreaterThan(result.events[0]!.globalPosition);

    const events = await readStream(store(), id);
    expect(events).toHaveLength(2);
    const [a, b] = events;
    expect(a).toMatchObject({ type: "NoteAdded", data: { text: "note 1", n: 1 }, streamId: id, aggregateType: "note", version: 1 });
    expect(a!.metadata).toMatchObject({
      eventId: first.eventId,
      userId: "user-test",
      correlationId,
      causationId: null,
      schemaVersion: 1,
      extra: { source: "test", retried: false },
    });
    expect(a!.metadata.occurredAt.toISOString()).toBe(first.occurredAt.toISOString());
    expect(a!.metadata.recordedAt).toBeInstanceOf(Date);
    expect(b!.metadata).toMatchObject({ causationId: first.eventId, userId: "user-2" });
    expect(await streamVersion(store(), id)).toBe(2);
    expect(await streamVersion(store(), newStreamId())).toBe(0);
  });

  it("stores fields an array literal must quote as given, hashed as event_hash defines", async () => {
    // The batch goes to the database as array literals (append.ts encodeColumns): separators,
    // quotes, braces, backslashes, spaces, the word NULL and an empty string are values too.
    const id = `note-ü {1}, "q" \\ ${randomUUID()}`;
    const awkward = ['NULL', 'a "b", {c} \\ d', "", " padded ", "null", "ü ☃"];
    const events = awkward.map((text, i) =>
      note(i, {
        userId: text,
        correlationId: awkward[(i + 1) % awkward.length]!,
        causationId: i % 2 ? awkward[(i + 2) % awkward.length]! : null,
        occurredAt: new Date(Date.UTC(2026, 0, 1, 0, 0, i % 3)),
        ...(i === 2 ? { extra: { note: 'x "y"', n: 1 } } : {}),
      }),
    );
    const result = await appendToStream(store(), id, events, { expectedVersion: "no_stream", aggregateType: "note" });
    expect(result.events.map((e) => [e.eventId, e.version])).toEqual(events.map((e, i) => [e.eventId, i + 1]));
    const stored = await readStream(store(), id);
    expect(stored.map((e) => e.metadata.eventId)).toEqual(events.map((e) => e.eventId));
    expect(stored.map((e) => e.globalPosition)).toEqual(result.events.map((e) => e.globalPosition));
    expect(stored.map((e) => e.metadata.recordedAt.getTime())).toEqual(result.events.map((e) => e.recordedAt.getTime()));
    expect(stored.map((e) => [e.metadata.userId, e.metadata.correlationId, e.metadata.causationId, e.metadata.occurredAt.getTime()])).toEqual(
      events.map((e) => [e.userId, e.correlationId, e.causationId, e.occurredAt.getTime()]),
    );
    expect(stored[2]!.metadata.extra).toEqual({ note: 'x "y"', n: 1 });
    const [check] = await store().sql<{ ok: boolean }>(
      `SELECT bool_and(hash = event_hash(prev, event_id, stream_id, version, event_type, event_version, data, metadata,
                                         occurred_at, recorded_at, user_id, correlation_id, causation_id)) AS ok
         FROM (SELECT e.*, lag(e.hash) OVER (ORDER BY e.version) AS prev FROM events e WHERE e.stream_id = $1) x`,
      [id],
    );
    expect(check!.ok).toBe(true);
  });

  it("reads a stream by version range, backwards, bounded and as of a time", async () => {
    const id = newStreamId();
    await appendToStream(store(), id, [1, 2, 3].map((n) => note(n)), { expectedVersion: "no_stream", aggregateType: "note" });
    const [before] = await readStream(store(), id, { direction: "backwards", maxCount: 1 });
    await new Promise((r) => setTimeout(r, 20));
    await appendToStream(store(), id, [note(4), note(5)], { expectedVersion: 3, aggregateType: "note" });

    expect((await readStream(store(), id, { fromVersion: 2, toVersion: 4 })).map((e) => e.version)).toEqual([2, 3, 4]);
    expect((await readStream(store(), id, { direction: "backwards", maxCount: 2 })).map((e) => e.version)).toEqual([5, 4]);
    const asOf = await readStream(store(), id, { asOf: before!.metadata.recordedAt });
    expect(asOf.map((e) => e.version)).toEqual([1, 2, 3]);
  });

  it("returns the first result when the same event ids are appended again, and writes nothing", async () => {
    const id = newStreamId();
    const batch = [note(1), note(2)];
    const first = await appendToStream(store(), id, batch, { expectedVersion: "no_stream", aggregateType: "note" });
    const again = await appendToStream(store(), id, batch, { expectedVersion: "no_stream", aggregateType: "note" });
    expect(again.repeated).toBe(true);
    expect(again.events).toEqual(first.events);
    expect(again.nextExpectedVersion).toBe(2);
    expect(await readStream(store(), id)).toHaveLength(2);
    expect(await streamVersion(store(), id)).toBe(2);
  });

  it("refuses a batch whose ids were partly appended before", async () => {
    const id = newStreamId();
    const one = note(1);
    await appendToStream(store(), id, [one], { expectedVersion: "no_stream", aggregateType: "note" });
    await expect(appendToStream(store(), id, [one, note(2)], { expectedVersion: 1, aggregateType: "note" })).rejects.toThrow(
      DuplicateEventError,
    );
    expect(await streamVersion(store(), id)).toBe(1);
  });

  it("applies the four expected-version modes and writes nothing on a stale one", async () => {
    const id = newStreamId();
    const attempt = (expectedVersion: ExpectedVersion) =>
      appendToStream(store(), id, [note(0)], { expectedVersion, aggregateType: "note" });

    await expect(attempt("stream_exists")).rejects.toBeInstanceOf(ConcurrencyError);
    await expect(attempt(1)).rejects.toBeInstanceOf(ConcurrencyError);
    // A refused append to a missing stream leaves no trace of it.
    const rows = await db().prisma.stream.findMany({ where: { streamId: id }, select: { version: true } });
    expect(rows).toEqual([]);
    await attempt("no_stream");
    await expect(attempt("no_stream")).rejects.toMatchObject({ streamId: id, expectedVersion: "no_stream", actualVersion: 1 });
    await attempt("stream_exists");
    await attempt("any");
    await attempt(3);
    const stale = await attempt(2).catch((e: unknown) => e);
    expect(stale).toBeInstanceOf(ConcurrencyError);
    expect(stale).toMatchObject({ streamId: id, expectedVersion: 2, actualVersion: 4 });
    expect((stale as Error).message).toContain("expected version 2, actual version 4");
    expect(await streamVersion(store(), id)).toBe(4);
    expect(await readStream(store(), id)).toHaveLength(4);
  });

  it("refuses UPDATE, DELETE and TRUNCATE on events in the database itself", async () => {
    const id = newStreamId();
    await appendToStream(store(), id, [note(1)], { expectedVersion: "no_stream", aggregateType: "note" });
    // The trigger refuses even the owner (the app's own role lacks the privilege in the first place).
    await withOwner(kind, db(), async (sql) => {
      await expect(sql("UPDATE events SET user_id = 'intruder' WHERE stream_id = $1", [id])).rejects.toThrow(
        /events are immutable: UPDATE refused/,
      );
      await expect(sql("DELETE FROM events WHERE stream_id = $1", [id])).rejects.toThrow(/events are immutable: DELETE refused/);
      await expect(sql("TRUNCATE events CASCADE")).rejects.toThrow(/events are immutable: TRUNCATE refused/);
    });
    const [event] = await readStream(store(), id);
    expect(event!.metadata.userId).toBe("user-test");
  });

  it("re-running migrations is a no-op", async () => {
    const before = await migrationStatus(db());
    expect(before.pending).toEqual([]);
    const rows = async () =>
      db().withSession((s) => s.query<{ n: number }>(`SELECT count(*)::int AS n FROM "_prisma_migrations"`));
    const count = (await rows())[0]!.n;
    const applied: string[] = [];
    const status = await migrate(db(), { log: (l) => applied.push(l) });
    expect(applied).toEqual([]);
    expect(status.latest).toBe(before.latest);
    expect((await rows())[0]!.n).toBe(count);
  });

  it("reads the global log in commit order from a checkpoint, optionally by type", async () => {
    const id = newStreamId();
    const checkpoint = await endOfLog();
    const removed = { ...note(3), type: "NoteRemoved", data: { reason: "dup" } };
    await appendToStream(store(), id, [note(1), note(2), removed], { expectedVersion: "no_stream", aggregateType: "note" });
    const next = await readAll(store(), { after: checkpoint, limit: 2 });
    expect(next.events.filter((e) => e.streamId === id).map((e) => e.version)).toEqual([1, 2]);
    const rest = await readAll(store(), { after: next.checkpoint, limit: 100 });
    expect(rest.events.filter((e) => e.streamId === id).map((e) => e.version)).toEqual([3]);
    const typed = await readAll(store(), { after: checkpoint, eventTypes: ["NoteRemoved"] });
    expect(typed.events.every((e) => e.type === "NoteRemoved")).toBe(true);
    expect(typed.events.some((e) => e.streamId === id)).toBe(true);
  });

  it("streams the global log in pages, in commit order, with trusted decode, to the end of what is visible", async () => {
    const checkpoint = await endOfLog();
    const id = newStreamId();
    await appendToStream(store(), id, [1, 2, 3, 4, 5, 6, 7].map((n) => note(n)), { expectedVersion: "no_stream", aggregateType: "note" });
    const seen: number[] = [];
    const pageSizes: number[] = [];
    // Poll: the shared server's horizon may hold the new events back for a moment.
    for (let tries = 0; tries < 50 && seen.length < 7; tries++) {
      seen.length = 0;
      pageSizes.length = 0;
      for await (const page of streamAll(store(), { after: checkpoint, pageSize: 3, decode: "trusted" })) {
        pageSizes.push(page.events.length);
        seen.push(...page.events.filter((e) => e.streamId === id).map((e) => (e.data as { n: number }).n));
      }
      if (seen.length < 7) await new Promise((r) => setTimeout(r, 100));
    }
    expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(pageSizes.every((n) => n > 0 && n <= 3)).toBe(true);
    // Stopping early stops reading.
    let pages = 0;
    for await (const page of streamAll(store(), { after: checkpoint, pageSize: 2 })) {
      pages++;
      expect(page.events).toHaveLength(2);
      break;
    }
    expect(pages).toBe(1);
  });

  it("streams on past the horizon it started with when events commit during the stream", async () => {
    const checkpoint = await endOfLog();
    const id = newStreamId();
    await appendToStream(store(), id, [1, 2, 3, 4].map((n) => note(n)), { expectedVersion: "no_stream", aggregateType: "note" });
    // Poll: the shared server's horizon may hold events back for a moment.
    let seen: number[] = [];
    for (let tries = 0; tries < 50; tries++) {
      seen = [];
      let appendedDuring = false;
      for await (const page of streamAll(store(), { after: checkpoint, pageSize: 2 })) {
        seen.push(...page.events.filter((e) => e.streamId === id).map((e) => (e.data as { n: number }).n));
        if (!appendedDuring && seen.length > 0) {
          // Committed after the stream read its horizon: only a horizon read again shows them.
          await appendToStream(store(), id, [5, 6, 7].map((n) => note(n)), { expectedVersion: 4, aggregateType: "note" });
          appendedDuring = true;
        }
      }
      if (seen.length === 7) break;
      if (appendedDuring) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it("computes the read horizon once per page, not once per row", async () => {
    // A bare log_read_horizon() in a filter runs per row (it reads pg_stat_activity): a
    // 1,000-event page took ~60 ms instead of ~2. As a sub-select it is one InitPlan.
    const plans: string[] = [];
    const explaining = {
      ...store(),
      sql: async <T,>(text: string, params: readonly unknown[]) => {
        const [row] = await store().sql<{ "QUERY PLAN": unknown }>(`EXPLAIN (FORMAT JSON) ${text}`, params);
        plans.push(JSON.stringify(row!["QUERY PLAN"]));
        return [] as T[];
      },
    };
    await readAll(explaining, { limit: 1000 });
    await readAll(explaining, { limit: 1000, eventTypes: ["NoteAdded"] });
    expect(plans).toHaveLength(2);
    for (const plan of plans) {
      expect(plan).toContain("InitPlan");
      expect(plan).not.toMatch(/"Filter":"[^"]*log_read_horizon\(\)/);
    }
  });

  it("finds events by correlation, causation chain, type and time range", async () => {
    const correlationId = randomUUID();
    const a = note(1, { correlationId });
    const b = note(2, { correlationId, causationId: a.eventId });
    const c = note(3, { correlationId, causationId: b.eventId });
    const unrelated = note(4);
    const s1 = newStreamId();
    const s2 = newStreamId();
    await appendToStream(store(), s1, [a, b], { expectedVersion: "no_stream", aggregateType: "note" });
    await appendToStream(store(), s2, [c, unrelated], { expectedVersion: "no_stream", aggregateType: "note" });

    expect((await readByCorrelationId(store(), correlationId)).map((e) => e.metadata.eventId)).toEqual([a.eventId, b.eventId, c.eventId]);
    const chain = await readByCausation(store(), a.eventId);
    expect(chain.map((e) => [e.metadata.eventId, e.depth])).toEqual([
      [a.eventId, 0],
      [b.eventId, 1],
      [c.eventId, 2],
    ]);
    const removed = { ...note(9), type: "NoteRemoved", data: { reason: "r" } };
    await appendToStream(store(), s2, [removed], { expectedVersion: 2, aggregateType: "note" });
    const byType = await readByType(store(), "NoteRemoved", { limit: 10_000 });
    expect(byType.some((e) => e.metadata.eventId === removed.eventId)).toBe(true);
    expect(byType.every((e) => e.type === "NoteRemoved")).toBe(true);

    const t0 = new Date(Date.now() - 60_000);
    const old = note(5, { occurredAt: t0 });
    await appendToStream(store(), newStreamId(), [old], { expectedVersion: "no_stream", aggregateType: "note" });
    const window = await readByTimeRange(store(), new Date(t0.getTime() - 1), new Date(t0.getTime() + 1));
    expect(window.map((e) => e.metadata.eventId)).toContain(old.eventId);
    await expect(readByTimeRange(store(), t0, t0)).rejects.toThrow(/'to' must be after 'from'/);
  });
});

describe("test harness", () => {
  it("gives each call a fresh stream id", () => {
    expect(newStreamId()).not.toBe(newStreamId());
  });
});
