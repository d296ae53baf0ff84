// Background work starts at boot, once per process, and stops on request; a request does not
// start it. On an in-memory PGlite database of its own (the outbox is global).
import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import type { Database } from "../db/client";
import { parseEnv } from "../db/env";
import { createContext } from "../api/context";
import { callerFor } from "../testing/caller";
import { openTestDatabase } from "../testing/db";
import { captureLogLines } from "../testing/logLines";
import { recentSealerPasses } from "../audit/sealerStatus";
import { processId } from "../metrics/rollups";
import { backgroundWorkWanted, startBackgroundWork } from "./background";

// This file's own process (vitest forks per file): the app's database is an embedded one in
// memory, the inline worker is configured, and there is no broker. env() reads these lazily.
process.env.DATABASE_URL = "";
process.env.PGLITE_DIR = "memory://";
process.env.OUTBOX_WORKER = "inline";
delete process.env.AMQP_URL;

const registration = () => ({
  mrn: `B${randomUUID().replace(/-/g, "").slice(0, 9).toUpperCase()}`,
  givenName: "Ada",
  familyName: `Testperson${randomUUID().slice(0, 6)}`,
  dateOfBirth: "1980-02-03",
  sex: "female" as const,
});

async function pendingOutboxRows(db: Database): Promise<number> {
  const [row] = await db.prisma.$queryRawUnsafe<{ n: number }[]>(
    "SELECT count(*)::int AS n FROM outbox WHERE processed_at IS NULL AND dead_lettered_at IS NULL",
  );
  return row?.n ?? -1;
}

async function until(check: () => Promise<boolean>, ms = 10_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await sleep(25);
  }
  return check();
}

describe("background work [embedded]", () => {
  let db: Database;
  beforeAll(async () => {
    db = await openTestDatabase("embedded");
  });
  afterAll(async () => {
    await db?.close();
  });

  it("is wanted only when some loop is configured to run in the app's process", () => {
    expect(backgroundWorkWanted(parseEnv({}))).toBe(false);
    expect(backgroundWorkWanted(parseEnv({ OUTBOX_WORKER: "inline" }))).toBe(true);
  });

  it("a request does not start the outbox worker, even with OUTBOX_WORKER=inline: only boot does", async () => {
    // The context the HTTP handler makes: the process's database, opened on first use.
    const ctx = await createContext({ headers: new Headers(), user: null });
    try {
      await callerFor(ctx.db, ["clinician"]).patient.register(registration());
      await sleep(500);
      expect(await pendingOutboxRows(ctx.db)).toBeGreaterThan(0);
      expect((globalThis as Record<symbol, unknown>)[Symbol.for("emr.backgroundWork")]).toBeUndefined();
    } finally {
      await ctx.db.close();
    }
  });

  it("drains the outbox from boot, once per process, one log line per pass that drained something, until stopped", async () => {
    // The process's structured log, as an operator's log shipper reads it.
    const { lines: jsonLines, restore: restoreLog } = captureLogLines();
    onTestFinished(restoreLog);
    await callerFor(db, ["clinician"]).patient.register(registration());
    expect(await pendingOutboxRows(db)).toBeGreaterThan(0);
    const e = parseEnv({ OUTBOX_WORKER: "inline", OUTBOX_POLL_MS: "50" });
    const lines: string[] = [];
    const work = startBackgroundWork(db, { env: e, log: (l) => lines.push(l) });
    expect(work.running).toEqual(["outbox worker", "projection runner", "audit sealer"]);
    // A second start (another bundle of the same process) gets the running set, not a second loop.
    expect(startBackgroundWork(db, { env: e, log: (l) => lines.push(`second: ${l}`) })).toBe(work);

    expect(await until(async () => (await pendingOutboxRows(db)) === 0)).toBe(true);
    await sleep(300); // several idle polls
    // Idle polls write nothing: every outbox line is a batch that moved something, and the
    // terminal's lines (the log sink) carry no second copy of it.
    const outboxLines = () =>
      jsonLines.map((l) => JSON.parse(l) as { component?: string; msg?: string; claimed?: number }).filter((l) => l.component === "outbox");
    expect(outboxLines().length).toBeGreaterThanOrEqual(1);
    for (const line of outboxLines()) {
      expect(line.msg).toBe("outbox batch");
      expect(line.claimed).toBeGreaterThan(0);
    }
    expect(lines.filter((l) => l.startsWith("outbox"))).toEqual([]);
    const drainedLines = outboxLines().length;

    await work.stop();
    await callerFor(db, ["clinician"]).patient.register(registration());
    await sleep(300);
    expect(await pendingOutboxRows(db)).toBeGreaterThan(0);
    expect(outboxLines()).toHaveLength(drainedLines);

    // Stopped work can be started again (a restart of the same process's loops).
    const again = startBackgroundWork(db, { env: e, log: (l) => lines.push(l) });
    expect(again).not.toBe(work);
    expect(await until(async () => (await pendingOutboxRows(db)) === 0)).toBe(true);
    await again.stop();
  });

  it("without a signing key in production the sealer does not run, and its refusal is recorded with the reason", async () => {
    const e = { ...parseEnv({ OUTBOX_WORKER: "inline", OUTBOX_POLL_MS: "50" }), NODE_ENV: "production" as const, AUDIT_SIGNING_KEY: undefined };
    const seals = async () => (await db.sql<{ n: number }>("SELECT count(*)::int AS n FROM audit_seals", []))[0]?.n;
    const sealsBefore = await seals();
    const work = startBackgroundWork(db, { env: e, log: () => {} });
    try {
      await callerFor(db, ["clinician"]).patient.register(registration());
      expect(work.running).not.toContain("audit sealer");
      expect(work.running).toContain("audit sealer status (no signing key)");
      const refusal = async () => (await recentSealerPasses(db.sql)).find((p) => p.processId === processId);
      expect(await until(async () => (await refusal())?.outcome === "refused")).toBe(true);
      expect((await refusal())?.reason).toMatch(/no signing key configured/);
      await sleep(300);
      expect(await seals()).toBe(sealsBefore);
    } finally {
      await work.stop();
    }
  });
});
