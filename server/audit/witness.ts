// The seal witness: the newest seal a sealer signed (or saw, its signature checked), kept outside
// the database. The seals prove the log unchanged only while they are there: an owner who turns
// the triggers off can rewrite an event, recompute its stream's hashes with event_hash() and
// delete every seal, and the log then verifies as one never sealed, and the next pass of the
// sealer would sign the rewritten history. What the database owner cannot reach is a record
// elsewhere: this file on the sealer's machine (AUDIT_WITNESS_FILE), each seal in the server's
// log ("audit seal", shipped with the logs), an extract's seal. sealLog refuses to seal past a
// witness the database no longer holds as signed; verifyLog reports it.
import { closeSync, existsSync, fchmodSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeSync } from "node:fs";
import { hostname } from "node:os";
import { dirname, join } from "node:path";

/** What a witness holds of a seal: enough to find it and tell it changed (no event content). */
export type SealWitness = {
  seq: number;
  to: string;
  chainHash: string;
  keyId?: string;
  /** When the sealer signed (or first saw) it: the log then held every event recorded before. Absent in an extract's seal. */
  signedAt?: string;
  /**
   * The database it was signed in, as created (integrity.ts databaseIncarnation): a log emptied
   * and written again in that same database is not taken for a new database at the same place.
   * Absent in an extract's seal and in files written before.
   */
  database?: string;
};

export const defaultWitnessFile = join(/*turbopackIgnore: true*/ process.cwd(), ".data", "audit-witness.json");

export const witnessFileFor = (e: { AUDIT_WITNESS_FILE?: string | undefined }): string => e.AUDIT_WITNESS_FILE ?? defaultWitnessFile;

/** A witness from its JSON: this module's file, or the seal object an extract carries (seq, to, chainHash). */
export function parseWitness(text: string, source: string): SealWitness {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error(`${source}: not JSON`);
  }
  return witnessFrom(value, source);
}

function witnessFrom(value: unknown, source: string): SealWitness {
  const w = (value ?? {}) as Partial<SealWitness> & { seal?: Partial<SealWitness> };
  const seal = w.seal && typeof w.seal === "object" ? w.seal : w;
  if (!Number.isSafeInteger(seal.seq) || (seal.seq ?? 0) < 1 || typeof seal.to !== "string" || typeof seal.chainHash !== "string" || !/^[0-9a-f]{64}$/.test(seal.chainHash)) {
    throw new Error(`${source}: not a seal witness (seq, to and a 64-digit hex chainHash)`);
  }
  return {
    seq: seal.seq!,
    to: seal.to,
    chainHash: seal.chainHash,
    ...(seal.keyId ? { keyId: seal.keyId } : {}),
    ...(seal.signedAt ? { signedAt: seal.signedAt } : {}),
    ...(typeof seal.database === "string" && seal.database ? { database: seal.database } : {}),
  };
}

/**
 * The sealer's witness file: the newest seal per database it sealed, so the test databases and
 * demo resets of one machine do not stand in for one another. A database is named by what it is,
 * not by how it was reached: on PostgreSQL its cluster's system identifier and its name
 * ("postgresql:<system identifier>/<name>"), so "localhost" and "127.0.0.1" find the same entry;
 * the embedded database by its folder. Files written before were keyed by the connection URL
 * without credentials ("127.0.0.1:5432/emr"): such an entry is still read, and moved to the
 * database's name at the sealer's next pass.
 */
type WitnessFile = { version: 1; seals: Record<string, SealWitness>; history?: SetAside[] };

/**
 * A witnessed seal an operator accepted as gone (a backup restored): kept in the file, with who,
 * when and why, and the acceptance's event in the log.
 */
export type SetAside = { entry: string; witness: SealWitness; setAsideAt: string; by: string; reason: string; eventId: string; baseline: SealWitness | null };

/** How the witness file names one database: `key`, and where an older file may have put it. */
export type WitnessKey = {
  key: string;
  /** The entry's name in files written before databases were named by identity (the URL's host, port and path). */
  legacy: string | null;
};

export type DatabaseRef = { mode: "postgresql" | "embedded"; location: string; sql: <R>(text: string, params: readonly unknown[]) => Promise<R[]> };

let warnedUrlKey = false;

/**
 * The database's name in the witness file. pg_control_system() is callable by every role unless
 * a DBA revoked it; then the connection's URL is the only name left (the file's old keying), and
 * the operator is told to spell the host one way everywhere.
 */
export async function witnessKeyOf(db: DatabaseRef): Promise<WitnessKey> {
  if (db.mode === "embedded") return { key: db.location, legacy: null };
  try {
    const [row] = await db.sql<{ system: string; name: string }>("SELECT system_identifier::text AS system, current_database() AS name FROM pg_control_system()", []);
    if (row) return { key: `postgresql:${row.system}/${row.name}`, legacy: db.location };
  } catch (error) {
    if ((error as { code?: string }).code !== "42501") throw error;
  }
  if (!warnedUrlKey) {
    warnedUrlKey = true;
    console.warn(
      `[audit] pg_control_system() is not allowed for this role: the seal witness names this database by its URL (${db.location}). ` +
        "Spell the host the same way in every DATABASE_URL, or GRANT EXECUTE ON FUNCTION pg_control_system() TO emr_app",
    );
  }
  return { key: db.location, legacy: null };
}

function readFile(file: string): WitnessFile {
  if (!existsSync(file)) return { version: 1, seals: {} };
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, "utf8"));
  } catch {
    throw new Error(`${file}: not JSON`);
  }
  const seals = (value as Partial<WitnessFile>).seals;
  if (!seals || typeof seals !== "object") throw new Error(`${file}: not a seal witness file`);
  const history = (value as Partial<WitnessFile>).history;
  return {
    version: 1,
    seals: Object.fromEntries(Object.entries(seals).map(([where, w]) => [where, witnessFrom(w, file)])),
    ...(Array.isArray(history) ? { history } : {}),
  };
}

const loopback = new Set(["localhost", "127.0.0.1", "::1", "[::1]"]);
const urlParts = (entry: string) => /^(.+):(\d+)(\/.+)$/.exec(entry);

/**
 * An older file's entry (host:port/name) of this database reached by another spelling of its
 * host: the same port and name, both hosts this machine's loopback. Two names of a remote server
 * cannot be told apart from their text (nor two servers with a database of the same name), so
 * such entries are only listed.
 */
function sameDatabaseByUrl(entry: string, legacy: string): boolean {
  const [a, b] = [urlParts(entry), urlParts(legacy)];
  return !!a && !!b && a[2] === b[2] && a[3] === b[3] && loopback.has(a[1]!) && loopback.has(b[1]!);
}

/**
 * What the witness file holds of one database: its entry (under its name, or an older file's
 * under the URL), and which databases the file knows besides, for a report that finds none.
 */
export type WitnessLookup = {
  witness: SealWitness | null;
  /** The entry it was found under. */
  entry: string | null;
  /** Entries of an older file naming this database by another spelling of a loopback host: each is held to as this database's. */
  sameName: { entry: string; witness: SealWitness }[];
  /** Every other entry of the file. */
  others: string[];
};

export function lookupWitness(file: string, where: WitnessKey): WitnessLookup {
  const seals = readFile(file).seals;
  const entry = where.key in seals ? where.key : where.legacy !== null && where.legacy in seals ? where.legacy : null;
  const sameName = Object.entries(seals)
    .filter(([name]) => name !== entry && where.legacy !== null && sameDatabaseByUrl(name, where.legacy))
    .map(([name, witness]) => ({ entry: name, witness }));
  const named = new Set([entry, ...sameName.map((s) => s.entry)]);
  return { witness: entry ? seals[entry]! : null, entry, sameName, others: Object.keys(seals).filter((name) => !named.has(name)) };
}

/**
 * Replaces the database's witness in one rename, so a crash leaves the old file or the new one. An
 * older file's entry under the URL goes. Every other entry is kept: the sealer cannot tell a
 * database dropped for good from one that is only unreachable from here, and an entry dropped is
 * a database whose deleted seals go unnoticed (the file grows by a line or two per database; an
 * operator removes the entries of databases they dropped). Writers of one file are serialized by
 * a lock file (withWitnessLock): `npm start` and `npm run worker` sealing two databases into one
 * file each read and rewrote the whole file, and the later rename dropped the other's entry.
 * Written readable by its owner only (0600), in a folder made 0700 when this creates it: it names
 * the machine's databases and is what an auditor trusts.
 */
export function writeWitness(file: string, where: WitnessKey, witness: SealWitness | null, setAside?: Omit<SetAside, "entry" | "witness" | "setAsideAt">): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  withWitnessLock(file, () => {
    // Read under the lock: what another writer put there since this process last read it stays.
    const current = readFile(file);
    const seals = { ...current.seals };
    const history = [...(current.history ?? [])];
    if (setAside) {
      const found = lookupWitness(file, where);
      if (found.witness) history.push({ entry: found.entry!, witness: found.witness, setAsideAt: new Date().toISOString(), ...setAside });
    }
    if (where.legacy !== null && where.legacy !== where.key) delete seals[where.legacy];
    if (witness) seals[where.key] = witness;
    else delete seals[where.key];
    const content = { version: 1, seals, ...(history.length > 0 ? { history } : {}) };
    const temporary = `${file}.${process.pid}.tmp`;
    // A temporary left by a crash may have another mode: 'w' reuses it, so the mode is set on the descriptor.
    const fd = openSync(temporary, "w", 0o600);
    try {
      fchmodSync(fd, 0o600);
      writeSync(fd, `${JSON.stringify(content, null, 2)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temporary, file);
  });
}

/** How long a witness lock may be held before another writer takes it as left by a crash (a write takes milliseconds). */
const staleLockMs = 10_000;
/** How long a writer waits for the lock before it gives up with an error naming the lock file. */
const lockWaitMs = 30_000;
const pause = new Int32Array(new SharedArrayBuffer(4));

/** Whether the process that wrote a lock ("pid host time") is gone: only known for this machine's processes. */
function holderGone(text: string): boolean {
  const [pid, host] = text.split(" ");
  if (host !== hostname() || !pid || !/^\d+$/.test(pid)) return false;
  try {
    process.kill(Number(pid), 0);
    return false;
  } catch (error) {
    return (error as { code?: string }).code === "ESRCH";
  }
}

/**
 * Runs fn holding `<file>.lock`, created with O_EXCL ('wx'), so one writer at a time in every
 * process on the machine (and on a shared file system that honours O_EXCL). A lock whose process
 * is gone, or older than staleLockMs, was left by a crash: it is moved aside under a name of this
 * process's own and removed, and if what was moved turns out to be a newer, live lock (taken
 * between the check and the move) it is put back with link(), which fails rather than replace one.
 */
export function withWitnessLock<T>(file: string, fn: () => T): T {
  const lock = `${file}.lock`;
  const deadline = Date.now() + lockWaitMs;
  for (let attempt = 0; ; attempt++) {
    let fd: number | null = null;
    try {
      fd = openSync(lock, "wx", 0o600);
    } catch (error) {
      if ((error as { code?: string }).code !== "EEXIST") throw error;
    }
    if (fd !== null) {
      try {
        writeSync(fd, `${process.pid} ${hostname()} ${new Date().toISOString()}`);
      } finally {
        closeSync(fd);
      }
      try {
        return fn();
      } finally {
        try {
          unlinkSync(lock);
        } catch {
          // Already moved aside by a writer that judged it stale: nothing of ours to remove.
        }
      }
    }
    breakIfStale(lock);
    if (Date.now() > deadline) throw new Error(`${lock}: another process has held the audit witness lock for ${lockWaitMs / 1000} s; if no sealer is running, remove the lock file`);
    Atomics.wait(pause, 0, 0, Math.min(50, 2 + attempt * 5));
  }
}

function breakIfStale(lock: string): void {
  let text: string;
  let judged: ReturnType<typeof statSync>;
  try {
    judged = statSync(lock);
    text = readFileSync(lock, "utf8");
  } catch {
    return; // released meanwhile
  }
  const old = Date.now() - judged.mtimeMs > staleLockMs;
  // A lock being written this instant has no text yet: only its age can make it stale.
  if (!old && (text === "" || !holderGone(text))) return;
  const aside = `${lock}.${process.pid}.${Date.now()}.stale`;
  try {
    renameSync(lock, aside);
  } catch {
    return; // another writer moved or released it
  }
  try {
    if (statSync(aside).ino !== judged.ino) {
      // A live writer's new lock: give it back, unless yet another lock was taken meanwhile.
      try {
        linkSync(aside, lock);
      } catch {
        // EEXIST: a third writer holds the lock now; the one moved aside finishes unaware.
      }
    }
  } finally {
    try {
      unlinkSync(aside);
    } catch {
      // gone already
    }
  }
}

/**
 * The witness of one database kept in a file: what sealLog is given. An older file's entry under
 * the URL is moved to the database's name on first read, so later readers reaching the database
 * by another host name find it.
 */
export function fileWitness(file: string, db: DatabaseRef) {
  let where: Promise<WitnessKey> | null = null;
  // Asked once; a failure (the database down) is asked again at the next pass, not kept.
  const key = () =>
    (where ??= witnessKeyOf(db).catch((error: unknown) => {
      where = null;
      throw error;
    }));
  return {
    read: async () => {
      const k = await key();
      const found = lookupWitness(file, k);
      if (found.witness && found.entry !== k.key) writeWitness(file, k, found.witness);
      return found.witness;
    },
    write: async (w: SealWitness) => writeWitness(file, await key(), w),
  };
}

/**
 * The seals the witness file holds this database to, and a sentence saying what it found: the
 * database's entry, an older entry of a database of the same name (held to as this one's), or,
 * when it has none, which databases it knows, so that "never sealed" is not read into a silence.
 */
export function witnessesIn(file: string, where: WitnessKey): { witnesses: SealWitness[]; summary: string | null } {
  const found = lookupWitness(file, where);
  const said: string[] = [];
  if (found.witness) said.push(`seal ${found.witness.seq} (the sealer's witness of this database${found.entry === where.key ? "" : `, an older entry under ${found.entry}`})`);
  for (const s of found.sameName) said.push(`seal ${s.witness.seq} of ${s.entry} (an older entry under the URL, naming this database by another spelling of its host: held to as this one's)`);
  if (said.length > 0) return { witnesses: [...(found.witness ? [found.witness] : []), ...found.sameName.map((s) => s.witness)], summary: `witnessed outside the database: ${said.join("; ")}` };
  if (found.others.length === 0) return { witnesses: [], summary: null };
  const shown = found.others.slice(0, 10).join(", ") + (found.others.length > 10 ? ` and ${found.others.length - 10} more` : "");
  return {
    witnesses: [],
    summary:
      `the sealer's witness file has no seal of this database (${where.key}); it holds seals of ${shown}. ` +
      "If a sealer with this file sealed this database, its seals are missing: compare with the sealer's log (\"audit seal\" lines)",
  };
}
