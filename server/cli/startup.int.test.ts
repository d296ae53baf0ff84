// Start-up refuses bad settings before it builds, migrates or seeds anything: npm start
// (server/cli/start.ts) and the boot that next start / next dev run (instrumentation.ts), each
// spawned as the real process. e2e/startup.spec.ts does the same with next start itself.
import { spawn, type ChildProcess } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "../..");
const tsxLoader = pathToFileURL(join(root, "node_modules", "tsx", "dist", "loader.mjs")).href;
const scratch = mkdtempSync(join(tmpdir(), "emr-startup-"));
// A test that times out leaves its process running: end every one this file started.
const running = new Set<ChildProcess>();
afterAll(() => {
  for (const child of running) child.kill("SIGKILL");
  rmSync(scratch, { recursive: true, force: true });
});

type Outcome = { code: number | null; signal?: NodeJS.Signals | null; stdout: string; stderr: string };

/** A working folder with an old development secret in it, as an earlier npm start leaves. */
function folderWithOldSecret(): string {
  const dir = mkdtempSync(join(scratch, "cwd-"));
  mkdirSync(join(dir, ".data"));
  writeFileSync(join(dir, ".data", "auth-secret"), "x".repeat(43), { mode: 0o600 });
  return dir;
}

function run(
  args: string[],
  settings: Record<string, string>,
  options: { cwd?: string; until?: RegExp; timeoutMs?: number } = {},
): Promise<Outcome> {
  // Only the settings under test: none of the test run's own DATABASE_URL, NODE_ENV=test, etc.
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: "development", ...settings };
  return new Promise((done, fail) => {
    // node with tsx's loader, not the tsx wrapper: one process, so a kill reaches the app itself.
    const child = spawn(process.execPath, ["--import", tsxLoader, ...args], { cwd: options.cwd ?? root, env, stdio: ["ignore", "pipe", "pipe"] });
    running.add(child);
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      fail(new Error(`no exit within ${options.timeoutMs ?? 60_000} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, options.timeoutMs ?? 60_000);
    let signalled = false;
    const watch = () => {
      // What an orchestrator does to stop a server: SIGTERM once, and the process must end by itself.
      if (!signalled && options.until?.test(stdout)) {
        signalled = true;
        child.kill("SIGTERM");
      }
    };
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
      watch();
    });
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("exit", (code, signal) => {
      running.delete(child);
      clearTimeout(timer);
      done({ code, signal, stdout, stderr });
    });
  });
}

const startScript = join(root, "server", "cli", "start.ts");
const bootScript = join(scratch, "boot.mts");
writeFileSync(bootScript, `import { register } from ${JSON.stringify(join(root, "instrumentation.ts"))};\nawait register();\n`);

describe.each([
  ["npm start", startScript],
  ["next start / next dev boot (instrumentation.ts)", bootScript],
])("%s with a bad setting", (_name, script) => {
  const bootEnv: Record<string, string> = script === bootScript ? { NEXT_RUNTIME: "nodejs", OUTBOX_WORKER: "inline" } : {};

  it("PORT=abc: exits 1 naming PORT, before opening or migrating the database", async () => {
    const dataDir = join(scratch, `pglite-port-${Math.random().toString(36).slice(2)}`);
    const out = await run([script], { ...bootEnv, PORT: "abc", PGLITE_DIR: dataDir });
    expect(out.code).toBe(1);
    expect(out.stderr).toContain("Invalid configuration");
    expect(out.stderr).toContain("PORT: must be a port number (1-65535)");
    expect(out.stdout).not.toMatch(/migration|database:|demo data|building/);
    expect(existsSync(dataDir)).toBe(false);
  });

  it("NODE_ENV=production without BETTER_AUTH_SECRET: exits 1 naming it, even with an old .data/auth-secret", async () => {
    const cwd = folderWithOldSecret();
    const dataDir = join(cwd, "pglite");
    const out = await run([script], { ...bootEnv, NODE_ENV: "production", PGLITE_DIR: dataDir }, { cwd });
    expect(out.code).toBe(1);
    expect(out.stderr).toContain("BETTER_AUTH_SECRET: required when NODE_ENV=production");
    expect(out.stdout).not.toMatch(/migration|database:|demo data|building/);
    expect(existsSync(dataDir)).toBe(false);
  });

  it("several bad settings: every one is named in one message", async () => {
    const dataDir = join(scratch, `pglite-many-${Math.random().toString(36).slice(2)}`);
    const out = await run([script], { ...bootEnv, PORT: "70000", DATABASE_URL: "mysql://db/emr", OUTBOX_POLL_MS: "soon", PGLITE_DIR: dataDir });
    expect(out.code).toBe(1);
    expect(out.stderr).toContain("PORT: must be a port number");
    expect(out.stderr).toContain("DATABASE_URL: must be a postgresql:// connection URL");
    expect(out.stderr).toContain("OUTBOX_POLL_MS");
    expect(existsSync(dataDir)).toBe(false);
  });
});

describe("npm start on a port another process holds", () => {
  it("exits 1 saying so and how to choose another, before building, migrating or seeding", async () => {
    const holder = createServer();
    await new Promise<void>((listening) => holder.listen(0, listening));
    const port = (holder.address() as AddressInfo).port;
    try {
      const cwd = folderWithOldSecret();
      const dataDir = join(cwd, "pglite");
      const out = await run([startScript], { PORT: String(port), PGLITE_DIR: dataDir }, { cwd });
      expect(out.code).toBe(1);
      expect(out.stderr).toContain(`Port ${port} is in use by another process (a console started earlier?): stop it, or start on another port, e.g. PORT=3000 npm start`);
      expect(out.stdout).not.toMatch(/migration|database:|demo data|building/);
      expect(existsSync(dataDir)).toBe(false);
    } finally {
      await new Promise((closed) => holder.close(closed));
    }
  });
});

describe("a PHI master key that cannot unwrap the stored data keys", () => {
  /** An embedded database holding one patient data key, wrapped by a master key nobody configures. */
  async function dataKeyUnderAnotherMasterKey(): Promise<{ dataDir: string; read: (sql: string) => Promise<unknown[]> }> {
    const dataDir = join(scratch, `pglite-phi-${Math.random().toString(36).slice(2)}`);
    const { openDatabase } = await import("../db/client");
    const { migrate } = await import("../db/migrate");
    const { masterKeyOf, wrapDataKey } = await import("../eventStore/phi");
    const stored = masterKeyOf(randomBytes(32));
    const db = await openDatabase({ dataDir });
    try {
      await migrate(db);
      await db.sql("INSERT INTO phi_keys (subject_id, wrapped_key, master_key_id) VALUES ($1, $2, $3)", ["p-1", wrapDataKey(stored, "p-1", randomBytes(32)), stored.id]);
    } finally {
      await db.close();
    }
    const read = async (sql: string) => {
      const again = await openDatabase({ dataDir });
      try {
        return await again.sql(sql, []);
      } finally {
        await again.close();
      }
    };
    return { dataDir, read };
  }

  it("stops start-up with exit 1 naming PHI_MASTER_KEY, before any request", { timeout: 200_000 }, async () => {
    const { dataDir } = await dataKeyUnderAnotherMasterKey();
    const out = await run([bootScript], { NEXT_RUNTIME: "nodejs", OUTBOX_WORKER: "inline", PGLITE_DIR: dataDir, PHI_MASTER_KEY: randomBytes(32).toString("base64") }, { timeoutMs: 180_000 });
    expect(out.code).toBe(1);
    expect(out.stderr).toContain("PHI_MASTER_KEY: 1 stored patient data keys are wrapped by master key");
    expect(out.stdout).not.toContain("background work:");
  });

  // The operator's tools stop at the same check before they do anything: a rebuild would otherwise
  // be recorded as started and then fail on the first sealed event, a rotation on the first key.
  it("stops projections:rebuild with exit 1 naming PHI_MASTER_KEY, before a rebuild is started or recorded", { timeout: 200_000 }, async () => {
    const { dataDir, read } = await dataKeyUnderAnotherMasterKey();
    const out = await run(["server/cli/rebuild.ts", "patients", "--reason", "after a restore"], { PGLITE_DIR: dataDir, PHI_MASTER_KEY: randomBytes(32).toString("base64") }, { timeoutMs: 180_000 });
    expect(out.code).toBe(1);
    expect(out.stderr).toContain("PHI_MASTER_KEY: 1 stored patient data keys are wrapped by master key");
    expect(await read("SELECT event_type FROM events")).toEqual([]);
  });

  it("keys:rotate given neither key that wraps the stored ones: exit 1 naming the key to add, nothing re-wrapped", { timeout: 200_000 }, async () => {
    const { dataDir, read } = await dataKeyUnderAnotherMasterKey();
    const before = await read("SELECT subject_id, wrapped_key, master_key_id FROM phi_keys");
    const out = await run(
      ["server/cli/keysRotate.ts"],
      { PGLITE_DIR: dataDir, PHI_MASTER_KEY: randomBytes(32).toString("base64"), PHI_MASTER_KEY_PREVIOUS: randomBytes(32).toString("base64") },
      { timeoutMs: 180_000 },
    );
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/PHI_MASTER_KEY_PREVIOUS: the data key of p-1 is wrapped by master key \w+, which is not given/);
    expect(await read("SELECT subject_id, wrapped_key, master_key_id FROM phi_keys")).toEqual(before);
  });

  it("keys:rotate with the development key lost: exit 1 saying to put it back, and no new key made over the data", { timeout: 200_000 }, async () => {
    const { dataDir } = await dataKeyUnderAnotherMasterKey();
    // A folder of its own (its .data has no key), with the release's migrations where the tool reads them.
    const cwd = mkdtempSync(join(scratch, "cwd-"));
    symlinkSync(join(root, "prisma"), join(cwd, "prisma"));
    const out = await run([join(root, "server/cli/keysRotate.ts")], { PGLITE_DIR: dataDir }, { cwd, timeoutMs: 180_000 });
    expect(out.code).toBe(1);
    expect(out.stderr).toContain("the development key");
    expect(out.stderr).toContain("is missing, but this database holds patient data keys");
    expect(existsSync(join(cwd, ".data", "phi-master-key"))).toBe(false);
  });
});

describe("keys:rotate refuses what it cannot do safely, before any key is touched", () => {
  it("without PHI_MASTER_KEY (the development key file would become the target), and given an argument it does not take", { timeout: 200_000 }, async () => {
    const dataDir = join(scratch, `pglite-rotate-${Math.random().toString(36).slice(2)}`);
    const { openDatabase } = await import("../db/client");
    const { migrate } = await import("../db/migrate");
    const { masterKeyOf, wrapDataKey } = await import("../eventStore/phi");
    const stored = randomBytes(32);
    const db = await openDatabase({ dataDir });
    try {
      await migrate(db);
      await db.sql("INSERT INTO phi_keys (subject_id, wrapped_key, master_key_id) VALUES ($1, $2, $3)", ["p-1", wrapDataKey(masterKeyOf(stored), "p-1", randomBytes(32)), masterKeyOf(stored).id]);
    } finally {
      await db.close();
    }
    // A checkout that was once started on the embedded database: its development key file is there.
    const cwd = mkdtempSync(join(scratch, "cwd-"));
    symlinkSync(join(root, "prisma"), join(cwd, "prisma"));
    mkdirSync(join(cwd, ".data"));
    writeFileSync(join(cwd, ".data", "phi-master-key"), `${randomBytes(32).toString("base64")}\n`, { mode: 0o600 });
    const previous = stored.toString("base64");
    const unset = await run([join(root, "server/cli/keysRotate.ts")], { PGLITE_DIR: dataDir, PHI_MASTER_KEY_PREVIOUS: previous }, { cwd, timeoutMs: 180_000 });
    expect(unset.code, unset.stderr).toBe(1);
    expect(unset.stderr).toContain("PHI_MASTER_KEY is not set");
    const dryRun = await run([join(root, "server/cli/keysRotate.ts"), "--dry-run"], { PGLITE_DIR: dataDir, PHI_MASTER_KEY: randomBytes(32).toString("base64"), PHI_MASTER_KEY_PREVIOUS: previous }, { cwd });
    expect(dryRun.code).toBe(2);
    expect(dryRun.stderr).toContain("--dry-run: this command takes no arguments");
    const again = await openDatabase({ dataDir });
    try {
      expect(await again.sql<{ master_key_id: string }>("SELECT master_key_id FROM phi_keys", [])).toEqual([{ master_key_id: masterKeyOf(stored).id }]);
    } finally {
      await again.close();
    }
  });
});

describe("next start / next dev boot (instrumentation.ts) with good settings", () => {
  // Opening and migrating a fresh embedded database in a new process takes a while on a busy machine.
  it("opens the database and starts the background work before any request, stops on SIGTERM, and prints no secret warning", { timeout: 200_000 }, async () => {
    const dataDir = join(scratch, `pglite-boot-${Math.random().toString(36).slice(2)}`);
    const out = await run([bootScript], { NEXT_RUNTIME: "nodejs", OUTBOX_WORKER: "inline", PGLITE_DIR: dataDir, PORT: "3303" }, {
      until: /background work: outbox worker/,
      timeoutMs: 180_000,
    });
    expect(out.stdout).toContain("background work: outbox worker");
    // SIGTERM stopped the loop and nothing else kept the process alive.
    expect({ code: out.code, signal: out.signal }, `stdout: ${out.stdout}\nstderr: ${out.stderr}`).toEqual({ code: 0, signal: null });
    expect(out.stderr).not.toMatch(/secret/i);
    expect(existsSync(dataDir)).toBe(true);
  });

  it("a production server on the embedded database says so (a DATABASE_URL that came out blank in a deploy)", async () => {
    const dataDir = join(scratch, `pglite-prod-${Math.random().toString(36).slice(2)}`);
    const { privateKey } = generateKeyPairSync("ed25519");
    const secrets = {
      BETTER_AUTH_SECRET: randomBytes(32).toString("base64"),
      PHI_MASTER_KEY: randomBytes(32).toString("base64"),
      AUDIT_SIGNING_KEY: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    };
    const out = await run([bootScript], { NEXT_RUNTIME: "nodejs", OUTBOX_WORKER: "off", NODE_ENV: "production", DATABASE_URL: "", PGLITE_DIR: dataDir, ...secrets });
    expect(out.code, out.stderr).toBe(0);
    expect(out.stderr).toContain(`DATABASE_URL is empty: serving from the embedded database at ${dataDir}`);
  });

  it("does nothing but check the settings when no background work is configured, and in the edge runtime", async () => {
    const dataDir = join(scratch, `pglite-off-${Math.random().toString(36).slice(2)}`);
    const off = await run([bootScript], { NEXT_RUNTIME: "nodejs", OUTBOX_WORKER: "off", PGLITE_DIR: dataDir });
    expect(off).toMatchObject({ code: 0, stdout: "", stderr: "" });
    const edge = await run([bootScript], { NEXT_RUNTIME: "edge", OUTBOX_WORKER: "inline", PGLITE_DIR: dataDir });
    expect(edge).toMatchObject({ code: 0, stdout: "", stderr: "" });
    expect(existsSync(dataDir)).toBe(false);
  });

  it("stops with exit 1 naming the holder when another process holds the embedded database, background work or not", async () => {
    const dataDir = join(scratch, `pglite-held-${Math.random().toString(36).slice(2)}`);
    const { lockEmbeddedDatabase } = await import("../db/embeddedLock");
    const lock = lockEmbeddedDatabase(dataDir);
    try {
      for (const worker of ["off", "inline"]) {
        const out = await run([bootScript], { NEXT_RUNTIME: "nodejs", OUTBOX_WORKER: worker, PGLITE_DIR: dataDir });
        expect(out.code, `OUTBOX_WORKER=${worker}\nstdout: ${out.stdout}\nstderr: ${out.stderr}`).toBe(1);
        expect(out.stderr).toContain(`in use by process ${process.pid}`);
        expect(out.stdout).not.toContain("background work:");
      }
    } finally {
      lock.release();
    }
  });
});
