// What an admin does about a dead letter: retried or set aside, each recorded as an operations
// event with who and why, in the transaction that changes the row. On a database of its own per
// kind: the outbox is global, and these tests count its rows.
import { expect, it } from "vitest";
import { appendToStream, readStream } from "../eventStore";
import { deadLetterStream } from "../domain/operations/events";
import { callerFor, codeOf } from "../testing/caller";
import { describeEachOwnDatabase } from "../testing/db";
import { newStreamId, note, storeOf } from "../testing/events";
import { addHandler, drainOutbox, type Bus, type OutboxDeps } from "./outbox";

type Row = { id: string; handled_at: Date | null; processed_at: Date | null; dead_lettered_at: Date | null; attempts: number; last_error: string | null };

describeEachOwnDatabase("dead letters, as an admin acts on them", (db, kind) => {
  const row = async (eventId: string) =>
    (
      await db().sql<Row>(
        "SELECT id::text AS id, handled_at, processed_at, dead_lettered_at, attempts, last_error FROM outbox WHERE event_id = $1::uuid",
        [eventId],
      )
    )[0]!;
  const append = async (streamId: string, from: number, count: number) => {
    const events = Array.from({ length: count }, (_, i) => note(from + i + 1));
    await appendToStream(storeOf(db()), streamId, events, { expectedVersion: from === 0 ? "no_stream" : from, aggregateType: "note" });
    return events.map((e) => e.eventId);
  };
  const recorded = async (eventId: string) => (await readStream(storeOf(db()), deadLetterStream(eventId))).map((e) => ({ type: e.type, data: e.data, userId: e.metadata.userId }));
  // Everything due taken, however far the backoffs reach (a clock an hour on).
  const drainAll = (deps: OutboxDeps) => drainOutbox(deps, { batchSize: 100, maxAttempts: 1, now: new Date(Date.now() + 3_600_000) });
  // A publisher seen now: a handler-stage letter set aside then waits for the bus.
  const publisherSeen = () => db().sql("INSERT INTO outbox_publishers (process_id, seen_at) VALUES ('ward-p:1:pppppp', now()) ON CONFLICT (process_id) DO UPDATE SET seen_at = now()", []);

  it("set aside after failing in the handlers: it goes on to the bus without them, the record's later events after it, and the admin's reason is recorded", async () => {
    const stream = newStreamId();
    const [first, ...later] = await append(stream, 0, 3);
    const handled: string[] = [];
    const sent: string[] = [];
    // The handler fails on the first event only, for good (a bug on that event).
    const handlers = addHandler(new Map(), "NoteAdded", async (e) => {
      if (e.metadata.eventId === first) throw new Error("cannot read the note");
      handled.push(e.metadata.eventId);
    });
    const bus: Bus = { ready: async () => {}, publish: async (e) => void sent.push(e.metadata.eventId), close: async () => {} };
    const deps: OutboxDeps = { store: storeOf(db()), handlers, bus, processId: `ward-a:${kind}` };
    await drainAll(deps);
    expect(await row(first!)).toMatchObject({ handled_at: null, processed_at: null, dead_lettered_at: expect.any(Date) });
    // Its later events are handled (handlers never wait), but not published: the bus keeps order.
    expect(handled).toEqual(later);
    expect(sent.filter((id) => [first, ...later].includes(id))).toEqual([]);

    const admin = callerFor(db(), ["admin"], { id: `admin-${kind}` });
    const letter = (await admin.admin.outbox()).deadLetters.find((d) => d.eventId === first)!;
    expect(letter).toMatchObject({ stage: "handlers", holding: 2 });
    expect(await admin.admin.setAsideDeadLetter({ id: letter.id, stage: "handlers", reason: "handler bug OPS-118; followed up by hand" })).toEqual({ id: letter.id, stage: "handlers" });

    expect(await row(first!)).toMatchObject({ handled_at: expect.any(Date), processed_at: null, dead_lettered_at: null, attempts: 0, last_error: null });
    expect(await recorded(first!)).toEqual([
      {
        type: "OutboxDeadLetterSetAside",
        data: { outboxId: letter.id, eventId: first, eventType: "NoteAdded", stage: "handlers", attempts: 1, lastError: "Error: cannot read the note", reason: "handler bug OPS-118; followed up by hand" },
        userId: `admin-${kind}`,
      },
    ]);
    await drainAll(deps);
    // Published, in the record's order; the handler was not run on it again.
    expect(sent.filter((id) => [first, ...later].includes(id))).toEqual([first, ...later]);
    expect(handled).toEqual(later);
    expect((await admin.admin.outbox()).deadLetters.find((d) => d.eventId === first)).toBeUndefined();
  });

  it("set aside after failing at the bus: never published, the record's later events go out, and the row still says it was a dead letter", async () => {
    const stream = newStreamId();
    const [first] = await append(stream, 0, 1);
    const sent: string[] = [];
    const bus: Bus = {
      ready: async () => {},
      publish: async (e) => {
        if (e.metadata.eventId === first) throw new Error("PRECONDITION_FAILED: message too large");
        sent.push(e.metadata.eventId);
      },
      close: async () => {},
    };
    const deps: OutboxDeps = { store: storeOf(db()), handlers: new Map(), bus, processId: `ward-b:${kind}` };
    await drainAll(deps);
    expect(await row(first!)).toMatchObject({ handled_at: expect.any(Date), processed_at: null, dead_lettered_at: expect.any(Date) });
    // Appended after it was refused for good: they wait behind it.
    const later = await append(stream, 1, 2);
    await drainAll(deps);
    expect(sent.filter((id) => later.includes(id))).toEqual([]);

    const admin = callerFor(db(), ["admin"], { id: `admin-${kind}` });
    const letter = (await admin.admin.outbox()).deadLetters.find((d) => d.eventId === first)!;
    expect(await admin.admin.setAsideDeadLetter({ id: letter.id, stage: "bus", reason: "too large for the broker; the lab system was called" })).toEqual({ id: letter.id, stage: "bus" });
    expect(await row(first!)).toMatchObject({ processed_at: expect.any(Date), dead_lettered_at: expect.any(Date) });
    expect((await recorded(first!)).map((e) => [e.type, (e.data as { stage: string }).stage])).toEqual([["OutboxDeadLetterSetAside", "bus"]]);

    await drainAll(deps);
    expect(sent.filter((id) => [first, ...later].includes(id))).toEqual(later);
    const status = await admin.admin.outbox();
    expect(status.deadLetters.find((d) => d.eventId === first)).toBeUndefined();
    expect(status.heldBehindDeadLetters).toBe(0);
  });

  it("set aside after failing in the handlers with no worker publishing: finished by the next pass of a worker without a bus", async () => {
    await db().sql("DELETE FROM outbox_publishers", []);
    const [only] = await append(newStreamId(), 0, 1);
    const handlers = addHandler(new Map(), "NoteAdded", async () => {
      throw new Error("cannot read the note");
    });
    await drainAll({ store: storeOf(db()), handlers, processId: `ward-c:${kind}` });
    const admin = callerFor(db(), ["admin"]);
    const letter = (await admin.admin.outbox()).deadLetters.find((d) => d.eventId === only)!;
    await admin.admin.setAsideDeadLetter({ id: letter.id, stage: "handlers", reason: "handler bug OPS-119" });
    expect(await row(only!)).toMatchObject({ handled_at: expect.any(Date), processed_at: null, dead_lettered_at: null });
    await drainAll({ store: storeOf(db()), handlers, processId: `ward-c:${kind}` });
    expect(await row(only!)).toMatchObject({ handled_at: expect.any(Date), processed_at: expect.any(Date), dead_lettered_at: null });
  });

  it("a retry is recorded too; what is refused changes nothing and records nothing", async () => {
    await publisherSeen();
    const [only] = await append(newStreamId(), 0, 1);
    const handlers = addHandler(new Map(), "NoteAdded", async () => {
      throw new Error("downstream unavailable");
    });
    await drainAll({ store: storeOf(db()), handlers, processId: `ward-d:${kind}` });
    const admin = callerFor(db(), ["admin"], { id: `admin-${kind}` });
    const letter = (await admin.admin.outbox()).deadLetters.find((d) => d.eventId === only)!;
    const before = await row(only!);

    // A reason too short, an id that is no dead letter, a role that is not admin: refused.
    expect(await codeOf(admin.admin.setAsideDeadLetter({ id: letter.id, stage: "handlers", reason: "x" }))).toBe("BAD_REQUEST");
    expect(await codeOf(admin.admin.setAsideDeadLetter({ id: letter.id + 1_000_000, stage: "handlers", reason: "not there" }))).toBe("NOT_FOUND");
    expect(await codeOf(callerFor(db(), ["clinician", "compliance"]).admin.setAsideDeadLetter({ id: letter.id, stage: "handlers", reason: "not mine to do" }))).toBe("FORBIDDEN");
    expect(await row(only!)).toEqual(before);
    expect(await recorded(only!)).toEqual([]);

    expect(await admin.admin.retryDeadLetter({ id: letter.id })).toEqual({ id: letter.id });
    expect(await row(only!)).toMatchObject({ dead_lettered_at: null, attempts: 0, handled_at: null });
    expect(await recorded(only!)).toEqual([
      {
        type: "OutboxDeadLetterRetried",
        data: { outboxId: letter.id, eventId: only, eventType: "NoteAdded", stage: "handlers", attempts: 1, lastError: "Error: downstream unavailable" },
        userId: `admin-${kind}`,
      },
    ]);
    // Back in line, it is no dead letter: neither retried nor set aside again.
    expect(await codeOf(admin.admin.retryDeadLetter({ id: letter.id }))).toBe("NOT_FOUND");
    expect(await codeOf(admin.admin.setAsideDeadLetter({ id: letter.id, stage: "handlers", reason: "too late for this" }))).toBe("NOT_FOUND");
    expect(await recorded(only!)).toHaveLength(1);
  });

  it("two dead letters in one record: each holds what follows it up to the next, and the figures add up to the page's total", async () => {
    const stream = newStreamId();
    const [e1, e2, e3, e4] = await append(stream, 0, 4);
    const handlers = addHandler(new Map(), "NoteAdded", async (e) => {
      if (e.metadata.eventId === e1 || e.metadata.eventId === e3) throw new Error("cannot read the note");
    });
    await drainAll({ store: storeOf(db()), handlers, bus: { ready: async () => {}, publish: async () => {}, close: async () => {} }, processId: `ward-f:${kind}` });
    const admin = callerFor(db(), ["admin"]);
    const status = await admin.admin.outbox();
    const holding = (id: string) => status.deadLetters.find((d) => d.eventId === id)?.holding;
    // e2 waits for e1 only; e4 for e3 (once e1 is out, e2 follows and the line stops at e3).
    expect([holding(e1!), holding(e3!)]).toEqual([1, 1]);
    // The page's total is what waits behind any dead letter: the letters' figures add up to it.
    expect(status.deadLetters.length).toBeLessThan(20);
    expect(status.deadLetters.reduce((sum, d) => sum + d.holding, 0)).toBe(status.heldBehindDeadLetters);
    expect((await row(e2!)).handled_at).toBeInstanceOf(Date);
    expect((await row(e4!)).handled_at).toBeInstanceOf(Date);
    // Set both aside, and nothing of this record is held any more.
    for (const id of [e1!, e3!]) await admin.admin.setAsideDeadLetter({ id: status.deadLetters.find((d) => d.eventId === id)!.id, stage: "handlers", reason: "handler bug OPS-120" });
    const after = await admin.admin.outbox();
    expect(after.deadLetters.filter((d) => d.eventId === e1 || d.eventId === e3)).toEqual([]);
    expect(after.heldBehindDeadLetters).toBe(status.heldBehindDeadLetters - 2);
  });

  it("set aside from a stale page: the letter failed at the bus since the admin read 'in the handlers', so it is refused, not left unpublished", async () => {
    await publisherSeen();
    const [only] = await append(newStreamId(), 0, 1);
    let handlerFails = true;
    const handlers = addHandler(new Map(), "NoteAdded", async () => {
      if (handlerFails) throw new Error("cannot read the note");
    });
    const sent: string[] = [];
    let busRefuses = false;
    const bus: Bus = {
      ready: async () => {},
      publish: async (e) => {
        if (busRefuses) throw new Error("PRECONDITION_FAILED: message too large");
        sent.push(e.metadata.eventId);
      },
      close: async () => {},
    };
    const deps: OutboxDeps = { store: storeOf(db()), handlers, bus, processId: `ward-g:${kind}` };
    await drainAll(deps);
    const admin = callerFor(db(), ["admin"], { id: `admin-a-${kind}` });
    // Admin A opens the set-aside form: "it goes on to the message bus without the handlers".
    const seen = (await admin.admin.outbox()).deadLetters.find((d) => d.eventId === only)!;
    expect(seen.stage).toBe("handlers");
    // Meanwhile admin B retries it: the handlers pass now, the broker refuses it for good.
    await callerFor(db(), ["admin"], { id: `admin-b-${kind}` }).admin.retryDeadLetter({ id: seen.id });
    handlerFails = false;
    busRefuses = true;
    await drainAll(deps);
    expect(await row(only!)).toMatchObject({ handled_at: expect.any(Date), dead_lettered_at: expect.any(Date), processed_at: null });

    // A's set-aside would now mean "never published": refused, nothing changed or recorded.
    const before = await row(only!);
    expect(await codeOf(admin.admin.setAsideDeadLetter({ id: seen.id, stage: seen.stage, reason: "handler bug OPS-121" }))).toBe("PRECONDITION_FAILED");
    expect(await row(only!)).toEqual(before);
    expect((await recorded(only!)).map((e) => e.type)).toEqual(["OutboxDeadLetterRetried"]);
    // Asked with the stage the page shows now, it is done.
    const now = (await admin.admin.outbox()).deadLetters.find((d) => d.eventId === only)!;
    expect(await admin.admin.setAsideDeadLetter({ id: now.id, stage: now.stage, reason: "too large for the broker" })).toEqual({ id: seen.id, stage: "bus" });
    // The stage is part of what the admin confirms: without it, refused.
    expect(await codeOf(admin.admin.setAsideDeadLetter({ id: seen.id, reason: "no stage given" } as never))).toBe("BAD_REQUEST");
    expect(sent).not.toContain(only);
  });

  it("set aside after failing in the handlers while every publisher has been away five minutes (the worker down): published once it is back", async () => {
    await db().sql("DELETE FROM outbox_publishers", []);
    const [first, second] = await append(newStreamId(), 0, 2);
    const handlers = addHandler(new Map(), "NoteAdded", async (e) => {
      if (e.metadata.eventId === first) throw new Error("cannot read the note");
    });
    const sent: string[] = [];
    const bus: Bus = { ready: async () => {}, publish: async (e) => void sent.push(e.metadata.eventId), close: async () => {} };
    await drainAll({ store: storeOf(db()), handlers, bus, processId: `ward-h:${kind}` });
    // The only worker, which publishes, stops; ten minutes on, an admin sets the letter aside.
    await db().sql("UPDATE outbox_publishers SET seen_at = now() - interval '10 minutes'", []);
    const admin = callerFor(db(), ["admin"]);
    const letter = (await admin.admin.outbox()).deadLetters.find((d) => d.eventId === first)!;
    await admin.admin.setAsideDeadLetter({ id: letter.id, stage: letter.stage, reason: "handler bug OPS-122" });
    // The worker starts again (a new process): the letter goes out, then the event behind it.
    await drainAll({ store: storeOf(db()), handlers, bus, processId: `ward-h2:${kind}` });
    expect(sent.filter((id) => id === first || id === second)).toEqual([first, second]);
    expect(await row(first!)).toMatchObject({ processed_at: expect.any(Date), dead_lettered_at: null });
  });

  it("two admins on one dead letter at once: one does it, the other is told it is gone; one event", async () => {
    const [only] = await append(newStreamId(), 0, 1);
    const handlers = addHandler(new Map(), "NoteAdded", async () => {
      throw new Error("downstream unavailable");
    });
    await drainAll({ store: storeOf(db()), handlers, processId: `ward-e:${kind}` });
    const admin = callerFor(db(), ["admin"]);
    const letter = (await admin.admin.outbox()).deadLetters.find((d) => d.eventId === only)!;
    const codes = await Promise.all([
      codeOf(admin.admin.retryDeadLetter({ id: letter.id })),
      codeOf(callerFor(db(), ["admin"]).admin.setAsideDeadLetter({ id: letter.id, stage: "handlers", reason: "both at once" })),
    ]);
    expect(codes.sort()).toEqual(["NOT_FOUND", "OK"]);
    expect(await recorded(only!)).toHaveLength(1);
  });
});
