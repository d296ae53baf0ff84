// One process owns an embedded (PGlite) database folder. PGlite is one in-process session with
// no shared memory between processes: two processes on one folder both write, and one of them
// loses its rows when both close. So opening a folder takes a lock file beside it, held for the
// process's life and removed on exit; a lock left by a process that is gone (kill -9, a crash)
// is taken over. Every other opener is refused with a message naming the holder.
// Two rules keep two openers from both believing they hold it: a lock file appears whole (written
// beside it, then hard-linked into place, so nobody reads a half-written one and takes it for a
// crash), and a stale lock is removed only under a short take-over guard, after checking that it
// is still the same stale lock (another opener may have replaced it with a live one meanwhile).
import { closeSync, linkSync, openSync, readFileSync, realpathSync, renameSync, statSync, unlinkSync, writeFileSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { resolve } from "node:path";

export class EmbeddedDatabaseLockedError extends Error {
  override readonly name = "EmbeddedDatabaseLockedError";
}

type LockInfo = { pid: number; host: string; started: number | null; command: string; since: string };

/** The process's start time in clock ticks since boot (Linux), so a reused pid is not mistaken for the holder. */
function startTicks(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name, which is in parentheses and may contain spaces.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const value = Number(fields[19]);
    return Number.isFinite(value) ? value : null;
  } catch {
    return null;
  }
}

function alive(info: LockInfo): boolean {
  if (info.host !== hostname()) return true; // another machine's process: cannot tell, assume held
  try {
    process.kill(info.pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
  const started = startTicks(info.pid);
  return info.started === null || started === null || started === info.started;
}

function readRaw(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
}

function parseLock(raw: string | null): LockInfo | null {
  if (raw === null) return null;
  try {
    return JSON.parse(raw) as LockInfo;
  } catch {
    return null;
  }
}

const readLock = (path: string) => parseLock(readRaw(path));

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

const ignoreMissing = (error: unknown) => {
  if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
};

/** Creates the lock file with its content in one step; false when one exists already. */
function createLock(path: string, content: string): boolean {
  const staged = `${path}.${process.pid}.new`;
  writeFileSync(staged, content, { mode: 0o600 });
  try {
    linkSync(staged, path);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EEXIST") return false;
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EXDEV") throw error;
    // A file system without hard links: create and write (a reader may briefly see it empty).
    let fd: number;
    try {
      fd = openSync(path, "wx", 0o600);
    } catch (fallback) {
      if ((fallback as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw fallback;
    }
    writeSync(fd, content);
    closeSync(fd);
    return true;
  } finally {
    try {
      unlinkSync(staged);
    } catch (error) {
      ignoreMissing(error);
    }
  }
}

/** How old a take-over guard must be before it counts as left by a crash mid-take-over. */
const GUARD_STALE_MS = 5_000;

/**
 * Removes the lock file if it still holds exactly what was judged stale. Under a guard: without
 * it, two openers that both read the dead process's lock could each remove it, the second one
 * removing the first one's fresh lock, and both would go on to open the folder.
 */
function removeStale(path: string, judged: string | null): void {
  const guard = `${path}.takeover`;
  try {
    closeSync(openSync(guard, "wx", 0o600));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    try {
      if (Date.now() - statSync(guard).mtimeMs > GUARD_STALE_MS) unlinkSync(guard);
    } catch (stat) {
      ignoreMissing(stat);
    }
    sleepSync(10); // another opener is taking it over: look again shortly
    return;
  }
  try {
    if (readRaw(path) === judged) unlinkSync(path);
  } catch (error) {
    ignoreMissing(error);
  } finally {
    try {
      unlinkSync(guard);
    } catch (error) {
      ignoreMissing(error);
    }
  }
}

/** What the process is, in words an operator recognises: its script, and npm's script name when there is one. */
function commandOf(): string {
  const cwd = process.cwd();
  const script = process.argv
    .slice(1, 3)
    .map((a) => (a.startsWith(cwd) ? a.slice(cwd.length + 1) : a.split("/").slice(-2).join("/")))
    .join(" ");
  const npm = process.env.npm_lifecycle_event;
  return npm && npm !== "npx" ? `npm run ${npm}: ${script}` : script || "node";
}

export type EmbeddedLock = {
  path: string;
  release(): void;
  /**
   * Keeps the lock past release() for a child process this one is about to start (npm start's
   * launcher hands the folder to the server it spawns): the environment to give the child, whose
   * first lock of the folder then takes this one over instead of being refused. Until it does,
   * the lock names this process, so nobody else gets in between; if the child never takes it,
   * this process's exit removes it as usual.
   */
  handOver(): Record<string, string>;
};

/** The environment variable naming a lock file handed over by the parent process. */
export const HANDED_OVER_LOCK_ENV = "EMR_EMBEDDED_LOCK_FROM_PARENT";

/** A lock this process's parent handed over to it (HANDED_OVER_LOCK_ENV), not yet taken. */
function handedToMe(path: string, held: LockInfo | null): boolean {
  return held !== null && process.env[HANDED_OVER_LOCK_ENV] === path && held.pid === process.ppid && held.host === hostname();
}

/** Storages of PGlite's that are a browser's, not a folder this process can lock. */
const BROWSER_STORAGE = /^(idb|opfs-ahp|memfs2opfs):\/\//;

/**
 * The folder PGlite opens for a data directory as given: PGlite reads "file:///x" as the folder
 * /x. Every opener, the lock included, goes by this, so each spelling of a folder takes one lock;
 * the lock went by the text and took "<cwd>/file:/x.lock", and two writers shared /x.
 */
export function embeddedFolderOf(dataDir: string): string {
  if (dataDir.startsWith("memory://")) return dataDir;
  if (BROWSER_STORAGE.test(dataDir)) throw new Error(`PGLITE_DIR=${dataDir} names a browser's storage: name a folder`);
  const folder = dataDir.startsWith("file://") ? dataDir.slice("file://".length) : dataDir;
  if (!folder.trim()) throw new Error(`PGLITE_DIR=${dataDir} names no folder`);
  return folder;
}

/**
 * The lock file of a folder, by the folder's real path: a symbolic link to the folder, or any
 * other spelling of it, names the same lock.
 */
function lockPathOf(dataDir: string): string {
  let folder = resolve(embeddedFolderOf(dataDir));
  try {
    folder = realpathSync(folder);
  } catch {
    // Not created yet: nothing can be open there either.
  }
  return `${folder}.lock`;
}

function inUseMessage(dataDir: string, held: LockInfo): string {
  // Another host's process cannot be looked at from here. A container recreated with the folder
  // on a volume gets a new hostname: its old lock names a process that no longer exists.
  const elsewhere =
    held.host === hostname()
      ? ""
      : `That process runs on another host (${held.host}), so whether it is alive cannot be told from here: ` +
        `if that machine or container is gone, delete ${lockPathOf(dataDir)} and start again. `;
  return (
    `The embedded database at ${dataDir} is in use by process ${held.pid} (${held.command}, since ${held.since}). ` +
    elsewhere +
    "It belongs to one process at a time: stop that process first, or run this against PostgreSQL " +
    "(set DATABASE_URL), where several processes may share the database. With `npm start` running, the " +
    "outbox and projections already run inside it, and POST /api/cron/outbox drains on demand."
  );
}

/**
 * Why the folder cannot be opened now (another live process holds it), or null. Only a look: a
 * server that opens the folder on its first request asks this at boot, so that it stops there
 * instead of printing "Ready" and failing every page.
 */
export function embeddedDatabaseHolder(dataDir: string): string | null {
  if (dataDir.startsWith("memory://")) return null;
  const path = lockPathOf(dataDir);
  const held = readLock(path);
  if (!held || (held.pid === process.pid && held.host === hostname()) || handedToMe(path, held)) return null;
  return alive(held) ? inUseMessage(dataDir, held) : null;
}

export type LockTestHooks = {
  /** Called between judging the lock stale and removing it: where another opener may act. */
  afterJudgedStale?: () => void;
};

export function lockEmbeddedDatabase(dataDir: string, hooks: LockTestHooks = {}): EmbeddedLock {
  const path = lockPathOf(dataDir);
  const mine: LockInfo = {
    pid: process.pid,
    host: hostname(),
    started: startTicks(process.pid),
    command: commandOf(),
    since: new Date().toISOString(),
  };
  // Enough tries to wait out another opener's take-over (each wait is 10 ms).
  for (let attempt = 0; attempt < 200; attempt++) {
    if (!createLock(path, JSON.stringify(mine))) {
      const raw = readRaw(path);
      const held = parseLock(raw);
      // Our pid, and our start time: this process holds it. Our pid with another start time is a
      // dead process's lock whose pid came round to us (a container restarted after kill -9 or
      // an out-of-memory kill numbers its processes from 1 again): stale, taken over below.
      if (held && held.pid === process.pid && held.host === mine.host && (held.started === null || mine.started === null || held.started === mine.started)) {
        throw new EmbeddedDatabaseLockedError(`The embedded database at ${dataDir} is already open in this process`);
      }
      if (handedToMe(path, held)) {
        // The parent's lock, handed to this process: rewritten in one step to name it (a
        // reader sees the parent's or this one's, both alive), once.
        const staged = `${path}.${process.pid}.new`;
        writeFileSync(staged, JSON.stringify(mine), { mode: 0o600 });
        renameSync(staged, path);
        delete process.env[HANDED_OVER_LOCK_ENV];
        return heldLock(path);
      }
      if (held && alive(held)) throw new EmbeddedDatabaseLockedError(inUseMessage(dataDir, held));
      // Stale (its process is gone) or unreadable (a crash while writing it): take it over.
      hooks.afterJudgedStale?.();
      removeStale(path, raw);
      continue;
    }
    return heldLock(path);
  }
  throw new EmbeddedDatabaseLockedError(`Could not take the lock ${path} of the embedded database at ${dataDir}`);
}

/** The lock file at `path`, which names this process: removed on release() or at exit. */
function heldLock(path: string): EmbeddedLock {
  let released = false;
  let handedOver = false;
  const remove = () => {
    if (released) return;
    released = true;
    process.off("exit", remove);
    // Only while it names this process: a child that took it over owns it now.
    const held = readLock(path);
    if (held?.pid === process.pid) {
      try {
        unlinkSync(path);
      } catch {
        // Already gone.
      }
    }
  };
  process.on("exit", remove);
  return {
    path,
    release: () => {
      if (!handedOver) remove();
    },
    handOver: () => {
      handedOver = true;
      return { [HANDED_OVER_LOCK_ENV]: path };
    },
  };
}
