// A rebuild's process killed with kill -9 mid-run: the rerun right after proceeds at once (the
// killed process's lock died with its connection) instead of being refused until a 30 s heartbeat
// window passed; and a rebuild whose process is alive still keeps a second one out. Real
// processes: `npm run projections:rebuild`'s script, spawned with tsx, on a log long enough to be
// killed mid-run.
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { storeFor } from "../api/context";
import { urlAsUser } from "../db/roles";
import { layLongPatientStream } from "../testing/longStream";
import { openFreshPostgresDatabase, openTestDatabase, pgUrl } from "../testing/db";
import { cancelRebuild, REBUILD_STALE_SECONDS, rebuildById, runRebuild, startRebuild } from "./rebuild";
import { projectionStatuses } from "./status";
import { allProjections } from "./registry";

const root = resolve(import.meta.dirname, "../..");
const tsxLoader = pathToFileURL(join(root, "node_modules", "tsx", "dist", "loader.mjs")).href;
/** Enough events that the rebuild runs for several seconds on a busy two-core machine. */
const EVENTS = 80_000;
const admin = { userId: "admin-takeover", correlationId: "corr-takeover" };
const running = new Set<ChildProcess>();

type Child = { process: ChildProcess; output: () => string; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> };

function spawnRebuild(env: Record<string, string>): Child {
  const child = spawn(process.execPath, ["--import", tsxLoader, join(root, "server", "cli", "rebuild.ts"), "patients", "--reason", "takeover test"], {
    cwd: root,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: "development", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  running.add(child);
  let output = "";
  child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.on("exit", (code, signal) => {
      running.delete(child);
      done({ code, signal });
    }),
  );
  return { process: child, output: () => output, exited };
}

/**
 * Waits until the child is copying and has replayed some events (a copying line with a count above
 * zero). Any line with a count matched before, and on a quiet machine the first one the child
 * printed could be its swap's, the rebuild over by the time the test stopped it.
 */
async function midRun(child: Child): Promise<void> {
  for (const deadline = Date.now() + 60_000; Date.now() < deadline; ) {
    if (/patients \[[#.]+\] +\d+% [1-9][\d,]*\/[\d,]+ events [\d,]+\/s copying/.test(child.output())) return;
    if (child.process.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`the rebuild never got going:\n${child.output()}`);
}

describe.skipIf(!pgUrl)("rebuild takeover after kill -9 [postgresql, a database of its own]", () => {
  let fresh: Awaited<ReturnType<typeof openFreshPostgresDatabase>>;
  let env: Record<string, string>;

  beforeAll(async () => {
    fresh = await openFreshPostgresDatabase(4);
    const owner = new pg.Client({ connectionString: fresh.ownerUrl });
    await owner.connect();
    try {
      await layLongPatientStream(owner, "patient-00000000-0000-4000-8000-00000000beef", "00000000-0000-4000-8000-00000000beef", EVENTS);
    } finally {
      await owner.end();
    }
    // The console's restricted role, as a deployment runs the command.
    env = { DATABASE_URL: urlAsUser(fresh.ownerUrl, new URL(pgUrl!).username), PHI_MASTER_KEY: randomBytes(32).toString("base64") };
  }, 180_000);

  afterAll(async () => {
    for (const child of running) child.kill("SIGKILL");
    await fresh?.drop();
  });

  it("refuses a second rebuild while the first one's process is alive, with a message that says so", { timeout: 180_000 }, async () => {
    const first = spawnRebuild(env);
    await midRun(first);
    // Stopped (alive, its connection and lock held), so a fast machine cannot finish it first.
    first.process.kill("SIGSTOP");
    const store = storeFor(fresh.db);
    try {
      // At once, even when the first was stopped inside a batch's transaction (holding its
      // checkpoint row): the lock is asked first. Before, the second waited on that row.
      const asked = performance.now();
      await expect(startRebuild(store, "patients", { reason: "second", ...admin })).rejects.toThrow(
        /Projection patients is already being rebuilt; cancel that rebuild or wait for it to end/,
      );
      expect(performance.now() - asked).toBeLessThan(5_000);
      expect(first.process.exitCode).toBeNull();
    } finally {
      first.process.kill("SIGCONT");
    }
    expect(await first.exited).toEqual({ code: 0, signal: null });
    expect(first.output()).toMatch(/rebuilt patients: 80,000 events/);
  });

  it("takes over at once from a rebuild whose process was killed with kill -9, and completes", { timeout: 180_000 }, async () => {
    const killed = spawnRebuild(env);
    await midRun(killed);
    // Stopped where it is, so it cannot finish between here and the kill.
    killed.process.kill("SIGSTOP");
    const [row] = await fresh.db.sql<{ id: string }>("SELECT id::text AS id FROM projection_rebuilds WHERE name = 'patients' AND status = 'running'", []);
    expect(row).toBeDefined();
    killed.process.kill("SIGKILL");
    expect(await killed.exited).toEqual({ code: null, signal: "SIGKILL" });

    // At once: its row still looks alive by its heartbeat (well inside the 30 s window).
    const killedAt = performance.now();
    const store = storeFor(fresh.db);
    const started = await startRebuild(store, "patients", { reason: "rerun after kill -9", ...admin });
    expect(performance.now() - killedAt).toBeLessThan(5_000);
    const result = await runRebuild(store, started);
    expect(result).toMatchObject({ status: "finished", eventsDone: EVENTS, error: null });

    expect(await rebuildById(fresh.db.prisma, row!.id)).toMatchObject({ status: "failed", error: "abandoned: the process running it stopped" });
    const patients = await fresh.db.sql<{ given_name: string }>("SELECT given_name FROM rm_patients", []);
    expect(patients).toEqual([{ given_name: `N${EVENTS}` }]);
    const shadows = await fresh.db.sql<{ n: number }>("SELECT count(*)::int AS n FROM pg_class WHERE relname LIKE 'rm\\_%\\_\\_rebuild'", []);
    expect(shadows[0]!.n).toBe(0);
  });
});

describe("rebuild takeover on the embedded database", () => {
  // One process owns the folder (embeddedLock.ts) and PGlite's advisory locks are re-entrant in
  // its one session, so the locks live in the process: a rebuild started after a crash (a new
  // process, no locks) takes the dead one's row over at once; one still running here keeps others out.
  it("refuses a second rebuild while the first holds its lock, and takes over at once once its holder is gone", { timeout: 60_000 }, async () => {
    const db = await openTestDatabase("embedded");
    try {
      const store = storeFor(db);
      const first = await startRebuild(store, "orders", { reason: "first", ...admin });
      await expect(startRebuild(store, "orders", { reason: "second", ...admin })).rejects.toThrow(/orders is already being rebuilt/);
      // Its holder gone without a word, as when its process dies: the row still says running.
      await first.lease!.close();
      const second = await startRebuild(store, "orders", { reason: "after the crash", ...admin });
      expect(await runRebuild(store, second)).toMatchObject({ status: "finished", error: null });
      expect(await rebuildById(db.prisma, first.rebuildId)).toMatchObject({ status: "failed", error: "abandoned: the process running it stopped" });

      // A run whose process stopped and that nobody starts again: shown stalled once it has not
      // reported for REBUILD_STALE_SECONDS, and Cancel ends it (the flag alone would be read by nobody).
      const orphan = await startRebuild(store, "orders", { reason: "process restarted mid-run", ...admin });
      await orphan.lease!.close();
      await db.sql("UPDATE projection_rebuilds SET heartbeat_at = now() - make_interval(secs => $2) WHERE id = $1::uuid", [orphan.rebuildId, REBUILD_STALE_SECONDS + 5]);
      const stateOf = async () => (await projectionStatuses(db.prisma, allProjections)).find((p) => p.name === "orders")!;
      expect(await stateOf()).toMatchObject({ state: "rebuild_stalled", rebuild: { id: orphan.rebuildId } });
      expect((await rebuildById(db.prisma, orphan.rebuildId))!.quietSeconds).toBeGreaterThan(REBUILD_STALE_SECONDS);
      await cancelRebuild(store, orphan.rebuildId);
      expect(await rebuildById(db.prisma, orphan.rebuildId)).toMatchObject({ status: "failed", error: "abandoned: the process running it stopped" });
      expect((await stateOf()).state).not.toMatch(/rebuild/);

      // A live run (its lock held) is only asked to stop (it stops at its next batch), not ended here.
      const live = await startRebuild(store, "orders", { reason: "cancelled while alive", ...admin });
      await cancelRebuild(store, live.rebuildId);
      expect(await rebuildById(db.prisma, live.rebuildId)).toMatchObject({ status: "running" });
      expect(await runRebuild(store, live)).toMatchObject({ error: null });
    } finally {
      await db.close();
    }
  });
});
