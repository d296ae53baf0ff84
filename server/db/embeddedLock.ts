// One process owns an embedded (PGlite) database folder. PGlite is one in-process session with
// no shared memory between processes: two processes on one folder both write, and one of them
// loses its rows when both close. So opening a folder takes a lock file beside it, held for the
// process's life and removed on exit; a lock left by a process that is gone (kill -9, a crash)
// is taken over. Every other opener is refused with a message naming the holder.
import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
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

function readLock(path: string): LockInfo | null {
  try {
    return JSON.parse(readFileSync(path, "utf8")) as LockInfo;
  } catch {
    return null;
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

export type EmbeddedLock = { path: string; release(): void };

export function lockEmbeddedDatabase(dataDir: string): EmbeddedLock {
  const path = `${resolve(dataDir)}.lock`;
  const mine: LockInfo = {
    pid: process.pid,
    host: hostname(),
    started: startTicks(process.pid),
    command: commandOf(),
    since: new Date().toISOString(),
  };
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, "wx", 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const held = readLock(path);
      if (held && held.pid === process.pid && held.host === mine.host) {
        throw new EmbeddedDatabaseLockedError(`The embedded database at ${dataDir} is already open in this process`);
      }
      if (held && alive(held)) {
        throw new EmbeddedDatabaseLockedError(
          `The embedded database at ${dataDir} is in use by process ${held.pid} (${held.command}, since ${held.since}). ` +
            "It belongs to one process at a time: stop that process first, or run this against PostgreSQL " +
            "(set DATABASE_URL), where several processes may share the database. With `npm start` running, the " +
            "outbox and projections already run inside it, and POST /api/cron/outbox drains on demand.",
        );
      }
      // Stale (its process is gone) or unreadable (a crash while writing it): take it over.
      try {
        unlinkSync(path);
      } catch {
        // Another process removed it first; try again.
      }
      continue;
    }
    writeSync(fd, JSON.stringify(mine));
    closeSync(fd);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      process.off("exit", release);
      const held = readLock(path);
      if (held?.pid === process.pid) {
        try {
          unlinkSync(path);
        } catch {
          // Already gone.
        }
      }
    };
    process.on("exit", release);
    return { path, release };
  }
  throw new EmbeddedDatabaseLockedError(`Could not take the lock ${path} of the embedded database at ${dataDir}`);
}
