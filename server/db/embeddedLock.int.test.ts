// One process per embedded database folder: a second opener is refused with a message naming
// the holder, in this process and from another one, and a lock left by a killed process is
// taken over.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openDatabase } from "./client";
import { embeddedDatabaseHolder, EmbeddedDatabaseLockedError, embeddedFolderOf, HANDED_OVER_LOCK_ENV, lockEmbeddedDatabase } from "./embeddedLock";
import { parseEnv } from "./env";

const dirs: string[] = [];
const children: ChildProcess[] = [];
const freshDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "emr-lock-"));
  dirs.push(dir);
  return join(dir, "pglite");
};

afterEach(() => {
  for (const child of children.splice(0)) child.kill("SIGKILL");
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** Another process that takes the folder's lock, says so, and keeps it until killed. */
function holder(dataDir: string, env: Record<string, string> = {}): Promise<ChildProcess> {
  const script = join(dataDir, "..", "holder.ts");
  writeFileSync(
    script,
    `import { lockEmbeddedDatabase } from ${JSON.stringify(join(process.cwd(), "server/db/embeddedLock.ts"))};
     lockEmbeddedDatabase(${JSON.stringify(dataDir)});
     console.log("holding");
     setInterval(() => {}, 1000);`,
  );
  const child = spawn(process.execPath, ["--import", "tsx", script], { cwd: process.cwd(), env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  return new Promise((resolve, reject) => {
    let err = "";
    child.stderr!.on("data", (d) => (err += String(d)));
    child.stdout!.on("data", (d) => String(d).includes("holding") && resolve(child));
    child.on("exit", (code) => reject(new Error(`holder exited ${code}: ${err}`)));
  });
}

describe("the embedded database has one owner", () => {
  it("refuses a second open in the same process until the first lets go", async () => {
    const dataDir = freshDir();
    const lock = lockEmbeddedDatabase(dataDir);
    // openDatabase takes the same lock before PGlite touches the folder.
    await expect(openDatabase({ dataDir })).rejects.toBeInstanceOf(EmbeddedDatabaseLockedError);
    lock.release();
    expect(existsSync(`${dataDir}.lock`)).toBe(false);
    const again = lockEmbeddedDatabase(dataDir);
    again.release();
  });

  it("takes over a lock with this process's pid but another start time (a restarted container's pid came round), and names another host's lock for what it is", () => {
    const dataDir = freshDir();
    mkdirSync(dataDir, { recursive: true });
    const lockPath = `${dataDir}.lock`;
    writeFileSync(lockPath, JSON.stringify({ pid: process.pid, host: hostname(), started: 12345, command: "npm run start", since: "2026-11-01T00:00:00.000Z" }));
    const lock = lockEmbeddedDatabase(dataDir);
    expect(JSON.parse(readFileSync(lockPath, "utf8")).started).not.toBe(12345);
    lock.release();

    writeFileSync(lockPath, JSON.stringify({ pid: 1, host: "old-container-3f2a", started: 999, command: "npm run start", since: "2026-11-01T00:00:00.000Z" }));
    expect(() => lockEmbeddedDatabase(dataDir)).toThrow(new RegExp(`another host \\(old-container-3f2a\\).*delete ${lockPath.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`));
  });

  it("refuses another process's folder, naming the process and what to do instead; takes over after kill -9", { timeout: 180_000 }, async () => {
    const dataDir = freshDir();
    const child = await holder(dataDir);
    const refused = await openDatabase({ dataDir }).then(
      () => null,
      (error: unknown) => error as Error,
    );
    expect(refused).toBeInstanceOf(EmbeddedDatabaseLockedError);
    expect(refused!.message).toContain(`process ${child.pid}`);
    expect(refused!.message).toMatch(/DATABASE_URL/);

    // The commands an operator would run beside it refuse too, and say why.
    const runs = await Promise.all(
      ["server/cli/migrate.ts", "prisma/seed.ts", "server/cli/outbox.ts"].map(
        (command) =>
          new Promise<{ command: string; status: number | null; output: string }>((resolve) => {
            const run = spawn(process.execPath, ["--import", "tsx", command], {
              cwd: process.cwd(),
              env: { ...process.env, DATABASE_URL: "", MIGRATION_DATABASE_URL: "", PGLITE_DIR: dataDir },
              stdio: ["ignore", "pipe", "pipe"],
            });
            children.push(run);
            let output = "";
            run.stdout!.on("data", (d) => (output += String(d)));
            run.stderr!.on("data", (d) => (output += String(d)));
            run.on("exit", (status) => resolve({ command, status, output }));
          }),
      ),
    );
    for (const run of runs) {
      expect(run.status, run.command).not.toBe(0);
      expect(run.output, run.command).toContain(`in use by process ${child.pid}`);
    }

    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    // The lock file is still there, but its process is gone: the next opener takes it over.
    expect(existsSync(`${dataDir}.lock`)).toBe(true);
    const lock = lockEmbeddedDatabase(dataDir);
    lock.release();
  });

  it("takes over a dead process's lock only while it is still that lock: a live opener's lock that replaced it meanwhile is kept", () => {
    const dataDir = freshDir();
    const lockPath = `${dataDir}.lock`;
    // Above Linux's largest pid: no such process.
    writeFileSync(lockPath, JSON.stringify({ pid: 2 ** 22 + 7, host: hostname(), started: 1, command: "a killed process", since: "2026-01-01T00:00:00.000Z" }));
    // Another opener (here: this test's parent process, which is alive) takes the stale lock over
    // between this opener's reading it and removing it.
    const live = JSON.stringify({ pid: process.ppid, host: hostname(), started: null, command: "another opener", since: new Date().toISOString() });
    const racing = () =>
      lockEmbeddedDatabase(dataDir, {
        afterJudgedStale: () => {
          unlinkSync(lockPath);
          writeFileSync(lockPath, live);
        },
      });
    expect(racing).toThrow(`in use by process ${process.ppid}`);
    expect(readFileSync(lockPath, "utf8")).toBe(live);
    expect(existsSync(`${lockPath}.takeover`)).toBe(false);
  });

  it("names the same lock through a symbolic link to the folder", () => {
    const dataDir = freshDir();
    mkdirSync(dataDir);
    const alias = join(dataDir, "..", "alias");
    symlinkSync(dataDir, alias);
    const lock = lockEmbeddedDatabase(dataDir);
    try {
      expect(() => lockEmbeddedDatabase(alias)).toThrow(/already open in this process/);
    } finally {
      lock.release();
    }
  });

  it("names the same lock for the folder spelled as a file:// URL, which PGlite opens as that folder", () => {
    const dataDir = freshDir();
    mkdirSync(dataDir);
    const lock = lockEmbeddedDatabase(dataDir);
    try {
      expect(() => lockEmbeddedDatabase(`file://${dataDir}`)).toThrow(/already open in this process/);
    } finally {
      lock.release();
    }
    expect(embeddedFolderOf(`file://${dataDir}`)).toBe(dataDir);
    expect(() => embeddedFolderOf("idb://emr")).toThrow(/browser's storage/);
    expect(() => parseEnv({ PGLITE_DIR: "idb://emr" })).toThrow(/PGLITE_DIR: must name a folder/);
  });

  it("hands the lock to a child process (npm start's server) with no moment in which another opener gets in", { timeout: 60_000 }, async () => {
    const dataDir = freshDir();
    const lockPath = `${dataDir}.lock`;
    const lock = lockEmbeddedDatabase(dataDir);
    const env = lock.handOver();
    expect(env).toEqual({ [HANDED_OVER_LOCK_ENV]: lockPath });
    // Released by the launcher (its database closed) before the child runs: still held, by the launcher.
    lock.release();
    expect(JSON.parse(readFileSync(lockPath, "utf8")).pid).toBe(process.pid);
    const child = await holder(dataDir, env);
    // The child took it over: it names the child now, and nobody else gets it.
    expect(JSON.parse(readFileSync(lockPath, "utf8")).pid).toBe(child.pid);
    expect(() => lockEmbeddedDatabase(dataDir)).toThrow(`in use by process ${child.pid}`);
    expect(embeddedDatabaseHolder(dataDir)).toContain(`process ${child.pid}`);

    // The handed-over environment is no key for another process: a grandchild, or any process
    // whose parent does not hold the lock, is refused as before.
    const stranger = await holder(dataDir, env).then(
      () => null,
      (error: unknown) => error as Error,
    );
    expect(stranger?.message).toContain(`in use by process ${child.pid}`);

    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    const again = lockEmbeddedDatabase(dataDir);
    again.release();
    expect(existsSync(lockPath)).toBe(false);
  });

  it("removes a handed-over lock at exit when the child never took it", () => {
    const dataDir = freshDir();
    const lockPath = `${dataDir}.lock`;
    const script = join(dataDir, "..", "launcher.ts");
    writeFileSync(
      script,
      `import { existsSync } from "node:fs";
       import { lockEmbeddedDatabase } from ${JSON.stringify(join(process.cwd(), "server/db/embeddedLock.ts"))};
       const lock = lockEmbeddedDatabase(${JSON.stringify(dataDir)});
       lock.handOver();
       lock.release();
       console.log(existsSync(${JSON.stringify(lockPath)}) ? "held after release" : "gone after release");`,
    );
    const run = spawnSync(process.execPath, ["--import", "tsx", script], { cwd: process.cwd(), encoding: "utf8" });
    expect(run.stdout.trim(), run.stderr).toBe("held after release");
    expect(existsSync(lockPath)).toBe(false);
  });
});
