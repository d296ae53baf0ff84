// The outbox upgraded to two stages (20261211010000) with rows mid-flight: rows the old one-stage
// worker had leased, rows it was retrying, dead letters it left, rows it had published. On an
// embedded database migrated to the migration before, filled as the old worker left it, then
// migrated to the end and drained by this worker.
import { cpSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase, type Database } from "../db/client";
import { defaultMigrationsDir, migrate } from "../db/migrate";
import { appendToStream } from "../eventStore";
import { callerFor } from "../testing/caller";
import { newStreamId, note, storeOf } from "../testing/events";
import { drainOutbox, type Bus, type OutboxDeps } from "./outbox";

const TWO_STAGES = "20261211010000_outbox_handlers_apart_from_the_bus";

describe("the outbox upgraded to two stages with rows mid-flight [embedded]", () => {
  let db: Database;
  let before: string;
  beforeAll(async () => {
    before = mkdtempSync(join(tmpdir(), "emr-migrations-"));
    for (const name of readdirSync(defaultMigrationsDir).filter((n) => n < TWO_STAGES)) cpSync(join(defaultMigrationsDir, name), join(before, name), { recursive: true });
    db = await openDatabase({ dataDir: "memory://" });
    await migrate(db, { dir: before });
  });
  afterAll(async () => {
    await db?.close();
    rmSync(before, { recursive: true, force: true });
  });

  it("leased rows wait out their lease, retried rows go out alone, and an old dead letter holds its stream's new events until retried", async () => {
    const store = storeOf(db);
    const append = async (streamId: string, from: number, count: number) => {
      const events = Array.from({ length: count }, (_, i) => note(from + i));
      await appendToStream(store, streamId, events, { expectedVersion: from - 1, aggregateType: "note" });
      return events.map((e) => e.eventId);
    };
    const set = (ids: string[], assignments: string) => db.sql(`UPDATE outbox SET ${assignments} WHERE event_id = ANY ($1::uuid[])`, [ids]);
    // As the one-stage worker left them.
    const a = newStreamId();
    const [a1, a2, a3] = await append(a, 1, 3);
    await set([a1!], "processed_at = now() - interval '1 minute'");
    await set([a2!], "next_retry_at = now() + interval '1 minute'"); // leased: being published by the old worker
    const c = newStreamId();
    const [c1, c2] = await append(c, 1, 2);
    await set([c1!, c2!], "attempts = 2, last_error = 'Error: queue full', next_retry_at = now() - interval '1 second'");
    const b = newStreamId();
    const [b1, b2] = await append(b, 1, 2);
    await set([b1!], "attempts = 5, last_error = 'Error: queue full', dead_lettered_at = now() - interval '1 day'");
    await set([b2!], "processed_at = now() - interval '1 day'");

    await migrate(db);
    const [b3] = await append(b, 3, 1);
    const sent: string[] = [];
    const bus: Bus = { ready: async () => {}, publish: async (e) => void sent.push(e.metadata.eventId), close: async () => {} };
    const deps: OutboxDeps = { store, handlers: new Map(), bus };
    await drainOutbox(deps, { batchSize: 50, maxAttempts: 5 });
    // a2 is the old worker's until its lease ends; a3 waits behind it. The retried rows go out in order.
    expect(sent).toEqual([c1, c2]);
    await drainOutbox(deps, { batchSize: 50, maxAttempts: 5, now: new Date(Date.now() + 120_000) });
    expect(sent).toEqual([c1, c2, a2, a3]);
    // The old dead letter now holds its stream: b3, appended after the upgrade, waits for it
    // (b2, published before it under the old worker, is out already).
    expect(sent).not.toContain(b3);
    const admin = callerFor(db, ["admin"]);
    const status = await admin.admin.outbox();
    expect(status.heldBehindDeadLetters).toBe(1);
    // Its stage is unknown (the old worker did both): it is shown, and retried, as the handlers'.
    const letter = status.deadLetters.find((d) => d.eventId === b1);
    expect(letter).toMatchObject({ stage: "handlers", holding: 1 });
    await admin.admin.retryDeadLetter({ id: letter!.id });
    await drainOutbox(deps, { batchSize: 50, maxAttempts: 5, now: new Date(Date.now() + 240_000) });
    // (The retry's own record, OutboxDeadLetterRetried, goes out too, on its own stream.)
    expect(sent.slice(4).filter((id) => id === b1 || id === b3)).toEqual([b1, b3]);
  });
});
