// The PHI master key (key-encryption key): PHI_MASTER_KEY, validated at boot. Outside production
// a key is made once and kept in .data/phi-master-key (mode 600) with a warning, so a demo
// encrypts too; `npm start` hands it to its `next start` (which runs as production). At start-up
// the key is tried on the stored data keys: a wrong key stops the process there, not on the
// first chart.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { makeDevFileOnce } from "./devFile";
import { EnvError, env, type Env } from "./env";
import { createKeyRing, newMasterKeyText, parseMasterKey, unwrapDataKey, type KeyRing, type MasterKey } from "../eventStore/phi";
import type { SqlRunner } from "../eventStore/db";

export const devMasterKeyFile = join(/*turbopackIgnore: true*/ process.cwd(), ".data", "phi-master-key");

let warned = false;

/** PHI_MASTER_KEY's text: the setting, or (outside production) the development key file. */
export function resolveMasterKeyText(e: Pick<Env, "PHI_MASTER_KEY" | "NODE_ENV">, file = devMasterKeyFile): string {
  if (e.PHI_MASTER_KEY) return e.PHI_MASTER_KEY;
  if (e.NODE_ENV === "production") {
    throw new EnvError("Invalid configuration:\n  PHI_MASTER_KEY: required when NODE_ENV=production (32 bytes in base64, e.g. `openssl rand -base64 32`)");
  }
  makeDevFileOnce(file, () => `${newMasterKeyText()}\n`);
  if (!warned) {
    warned = true;
    console.warn(`[phi] PHI_MASTER_KEY is not set: patient data keys are wrapped by the development key in ${file} (keep it with the data, never in production)`);
  }
  const text = readFileSync(/*turbopackIgnore: true*/ file, "utf8").trim();
  if (!parseMasterKey(text)) throw new EnvError(`Invalid configuration:\n  PHI_MASTER_KEY: the development key in ${file} is malformed (delete it only together with the data it protects)`);
  return text;
}

export function masterKeysOf(e: Pick<Env, "PHI_MASTER_KEY" | "PHI_MASTER_KEY_PREVIOUS" | "NODE_ENV">): { current: MasterKey; previous: MasterKey[] } {
  const current = parseMasterKey(resolveMasterKeyText(e))!;
  const previous = (e.PHI_MASTER_KEY_PREVIOUS ?? "")
    .split(",")
    .filter((k) => k.trim() !== "")
    .map((k) => parseMasterKey(k)!);
  return { current, previous };
}

const ringKey = Symbol.for("emr.phiKeyRing");
type GlobalWithRing = typeof globalThis & { [ringKey]?: KeyRing };

const ringsKey = Symbol.for("emr.phiKeyRings");
const firstKey = Symbol.for("emr.phiKeyRingFirstDatabase");
type GlobalWithRings = typeof globalThis & { [ringsKey]?: WeakMap<object, KeyRing>; [firstKey]?: object };

/**
 * The key ring of one database (its Prisma client), from the environment; kept on globalThis so
 * Next's server layers share it as they share the database. Data keys are rows of that
 * database's phi_keys and the ring caches them by patient: one ring for two databases that hold
 * the same patient id (the demo patients' ids are fixed) would seal the second database's events
 * under a key cached from the first, which the second never stores, and its readers would find
 * "no data key is stored".
 */
export function keyRingFor(database: object): KeyRing {
  const g = globalThis as GlobalWithRings;
  // A process on one database (every server and script) has one ring: the process's, which the
  // paths that know no database use too.
  g[firstKey] ??= database;
  if (g[firstKey] === database) return defaultKeyRing();
  const rings = (g[ringsKey] ??= new WeakMap());
  let ring = rings.get(database);
  if (!ring) {
    const e = env();
    ring = createKeyRing({ ...masterKeysOf(e), ttlMs: e.PHI_KEY_CACHE_SECONDS * 1000 });
    rings.set(database, ring);
  }
  return ring;
}

/** The process's key ring, from the environment (shared by Next's server layers like the database). */
export function defaultKeyRing(): KeyRing {
  const g = globalThis as GlobalWithRing;
  if (!g[ringKey]) {
    const e = env();
    g[ringKey] = createKeyRing({ ...masterKeysOf(e), ttlMs: e.PHI_KEY_CACHE_SECONDS * 1000 });
  }
  return g[ringKey];
}

/**
 * Start-up, before a development key is made: a database that already holds patient data keys
 * was encrypted under a key this folder has lost (.data/phi-master-key deleted, or the data
 * copied without it). A new key could read none of them, and once written beside the data it
 * hides what went wrong ("wrong key?"), so none is made: the start stops and says to put the
 * file back. Nothing to check when PHI_MASTER_KEY is set, in production, or with the file there.
 */
export async function refuseLostDevelopmentKey(sql: SqlRunner, e: Pick<Env, "PHI_MASTER_KEY" | "NODE_ENV">, file = devMasterKeyFile): Promise<void> {
  if (e.PHI_MASTER_KEY || e.NODE_ENV === "production" || existsSync(/*turbopackIgnore: true*/ file)) return;
  const rows = await sql<{ master_key_id: string; n: bigint }>(
    "SELECT master_key_id, count(*) AS n FROM phi_keys WHERE wrapped_key IS NOT NULL GROUP BY master_key_id ORDER BY n DESC",
    [],
  );
  if (rows.length === 0) return;
  const keys = rows.map((r) => `${r.n} wrapped by master key ${r.master_key_id}`).join(", ");
  throw new EnvError(
    `Invalid configuration:\n  PHI_MASTER_KEY: not set, and the development key ${file} is missing, but this database holds patient data keys (${keys}). ` +
      "Put that file back (from your copy of it), or set PHI_MASTER_KEY to that key; no new key was made, since it could read none of them. " +
      "To start over with fresh demo data instead, empty the database (the embedded one: delete the .data folder).",
  );
}

/**
 * What every process that reads PHI checks once its database is open (npm start checks the same
 * in its own order): a lost development key is said so, with no new one made over the data, and a
 * wrong PHI_MASTER_KEY stops it before it reads or writes anything.
 */
export async function checkPhiKeysAtStart(sql: SqlRunner, e: Pick<Env, "PHI_MASTER_KEY" | "NODE_ENV">): Promise<void> {
  await refuseLostDevelopmentKey(sql, e);
  await checkMasterKeys(sql, defaultKeyRing());
}

/**
 * Start-up check: every master key that wraps stored data keys must be configured, and one data
 * key per master key must unwrap. Throws an EnvError naming PHI_MASTER_KEY otherwise.
 */
export async function checkMasterKeys(sql: SqlRunner, ring: KeyRing): Promise<void> {
  const rows = await sql<{ master_key_id: string; subject_id: string; wrapped_key: string; n: bigint }>(
    `SELECT DISTINCT ON (master_key_id) master_key_id, subject_id, wrapped_key, count(*) OVER (PARTITION BY master_key_id) AS n
       FROM phi_keys WHERE wrapped_key IS NOT NULL ORDER BY master_key_id, subject_id`,
    [],
  );
  const problems: string[] = [];
  for (const row of rows) {
    const master = ring.masterKey(row.master_key_id);
    if (!master) {
      problems.push(
        `PHI_MASTER_KEY: ${row.n} stored patient data keys are wrapped by master key ${row.master_key_id}, which is neither PHI_MASTER_KEY (${ring.currentMasterKeyId}) nor in PHI_MASTER_KEY_PREVIOUS: wrong key?`,
      );
    } else if (!unwrapDataKey(master, row.subject_id, row.wrapped_key)) {
      problems.push(`PHI_MASTER_KEY: master key ${row.master_key_id} does not unwrap the stored data key of ${row.subject_id}`);
    }
  }
  if (problems.length > 0) throw new EnvError(`Invalid configuration:\n${problems.map((p) => `  ${p}`).join("\n")}`);
}
