// The seal witness: the newest seal a sealer signed (or saw, its signature checked), kept outside
// the database. The seals prove the log unchanged only while they are there: an owner who turns
// the triggers off can rewrite an event, recompute its stream's hashes with event_hash() and
// delete every seal, and the log then verifies as one never sealed, and the next pass of the
// sealer would sign the rewritten history. What the database owner cannot reach is a record
// elsewhere: this file on the sealer's machine (AUDIT_WITNESS_FILE), each seal in the server's
// log ("audit seal", shipped with the logs), an extract's seal. sealLog refuses to seal past a
// witness the database no longer holds as signed; verifyLog reports it.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

/** What a witness holds of a seal: enough to find it and tell it changed (no event content). */
export type SealWitness = {
  seq: number;
  to: string;
  chainHash: string;
  keyId?: string;
  /** When the sealer signed (or first saw) it: the log then held every event recorded before. Absent in an extract's seal. */
  signedAt?: string;
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
  return { seq: seal.seq!, to: seal.to, chainHash: seal.chainHash, ...(seal.keyId ? { keyId: seal.keyId } : {}), ...(seal.signedAt ? { signedAt: seal.signedAt } : {}) };
}

/**
 * The sealer's witness file: the newest seal per database it sealed, by the database's location
 * (its URL without credentials, or the embedded data directory), so the test databases and demo
 * resets of one machine do not stand in for one another.
 */
type WitnessFile = { version: 1; seals: Record<string, SealWitness> };
const keepDatabases = 50;

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
  return { version: 1, seals: Object.fromEntries(Object.entries(seals).map(([where, w]) => [where, witnessFrom(w, file)])) };
}

/** The witness of the database at `location` in `file`, or null when it has none yet. */
export function readWitness(file: string, location: string): SealWitness | null {
  return readFile(file).seals[location] ?? null;
}

/** Replaces the database's witness in one rename, so a crash leaves the old file or the new one. */
export function writeWitness(file: string, location: string, witness: SealWitness): void {
  const current = readFile(file);
  const seals = { ...current.seals, [location]: witness };
  // The newest few databases: a machine that runs the tests makes a database per run.
  const kept = Object.entries(seals)
    .sort(([, a], [, b]) => (b.signedAt ?? "").localeCompare(a.signedAt ?? ""))
    .slice(0, keepDatabases);
  mkdirSync(dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify({ version: 1, seals: Object.fromEntries(kept) }, null, 2)}\n`, { mode: 0o644 });
  renameSync(temporary, file);
}

/** The witness of one database kept in a file: what sealLog is given. */
export const fileWitness = (file: string, location: string) => ({
  read: () => readWitness(file, location),
  write: (w: SealWitness) => writeWitness(file, location, w),
});
