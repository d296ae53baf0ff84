// The witness file as a file: readable by its owner only, every database's entry kept, and
// writers in different processes (npm start's sealer and npm run worker's, sealing two databases
// into one file) never lose each other's entry.
import { execFile, spawn } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { withWitnessLock, writeWitness, type SealWitness } from "./witness";

const dir = mkdtempSync(join(tmpdir(), "emr-witness-file-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const newFile = () => join(dir, `witness-${++files}.json`);
const seal = (seq: number): SealWitness => ({ seq, to: `${seq}:${seq}`, chainHash: seq.toString(16).padStart(64, "0"), signedAt: new Date().toISOString() });
const at = (key: string) => ({ key, legacy: null });
const seals = (file: string) => (JSON.parse(readFileSync(file, "utf8")) as { seals: Record<string, SealWitness> }).seals;
const mode = (path: string) => statSync(path).mode & 0o777;

describe("the seal witness file", () => {
  it("is written 0600, in a folder made 0700, and an existing file's wider mode is narrowed when rewritten", () => {
    const folder = join(dir, "made", "here");
    const file = join(folder, "audit-witness.json");
    writeWitness(file, at("postgresql:1/emr"), seal(1));
    expect(mode(file)).toBe(0o600);
    expect(mode(folder)).toBe(0o700);
    expect(mode(join(dir, "made"))).toBe(0o700);

    const old = newFile();
    writeFileSync(old, JSON.stringify({ version: 1, seals: { "postgresql:1/old": seal(3) } }), { mode: 0o644 });
    chmodSync(old, 0o644);
    writeWitness(old, at("postgresql:1/emr"), seal(1));
    expect(mode(old)).toBe(0o600);
    expect(Object.keys(seals(old)).sort()).toEqual(["postgresql:1/emr", "postgresql:1/old"]);
    expect(existsSync(`${old}.lock`)).toBe(false);
  });

  it("keeps every database's entry, however many (an entry dropped is a database whose deleted seals go unnoticed)", () => {
    const file = newFile();
    for (let i = 0; i < 120; i++) writeWitness(file, at(`postgresql:1/db${i}`), seal(i + 1));
    const kept = seals(file);
    expect(Object.keys(kept)).toHaveLength(120);
    expect(kept["postgresql:1/db0"]?.seq).toBe(1);
  });

  it("keeps both entries when two processes write the same file at the same time", { timeout: 60_000 }, async () => {
    const file = newFile();
    const run = (key: string) =>
      promisify(execFile)(process.execPath, ["--import", "tsx", "server/audit/witnessWriter.fixture.ts", file, key, "60"], { cwd: process.cwd() });
    await Promise.all([run("postgresql:1/start"), run("postgresql:1/worker"), run("postgresql:1/third")]);
    const kept = seals(file);
    expect(Object.keys(kept).sort()).toEqual(["postgresql:1/start", "postgresql:1/third", "postgresql:1/worker"]);
    for (const entry of Object.values(kept)) expect(entry.seq).toBe(60);
    expect(mode(file)).toBe(0o600);
    expect(existsSync(`${file}.lock`)).toBe(false);
  });

  it("takes over a lock left by a process that is gone, or one too old to be a write in progress", () => {
    const file = newFile();
    // A pid that cannot be running (above Linux's pid_max).
    writeFileSync(`${file}.lock`, `99999999 ${hostname()} 2026-01-01T00:00:00.000Z`);
    writeWitness(file, at("postgresql:1/emr"), seal(1));
    expect(seals(file)["postgresql:1/emr"]?.seq).toBe(1);
    expect(existsSync(`${file}.lock`)).toBe(false);

    // A lock of another machine's process, say on a shared folder: only its age tells.
    writeFileSync(`${file}.lock`, `1 another-host 2026-01-01T00:00:00.000Z`);
    const old = new Date(Date.now() - 60_000);
    utimesSync(`${file}.lock`, old, old);
    writeWitness(file, at("postgresql:1/emr"), seal(2));
    expect(seals(file)["postgresql:1/emr"]?.seq).toBe(2);
  });

  it("waits for a live holder rather than write under it", async () => {
    const file = newFile();
    withWitnessLock(file, () => expect(readFileSync(`${file}.lock`, "utf8")).toMatch(new RegExp(`^${process.pid} ${hostname()} `)));
    expect(existsSync(`${file}.lock`)).toBe(false);
    // Another process holds the lock for 700 ms, fresh and alive: the write waits for its release.
    const holder = spawn(process.execPath, [
      "-e",
      `const fs = require("node:fs"); fs.writeFileSync(${JSON.stringify(`${file}.lock`)}, process.pid + " " + require("node:os").hostname() + " " + new Date().toISOString(), { flag: "wx" });
       console.log("held"); setTimeout(() => { fs.unlinkSync(${JSON.stringify(`${file}.lock`)}); }, 700);`,
    ]);
    const exited = new Promise((resolve) => holder.once("exit", resolve));
    await new Promise<void>((resolve) => holder.stdout.once("data", () => resolve()));
    const started = Date.now();
    writeWitness(file, at("postgresql:1/emr"), seal(1));
    expect(Date.now() - started).toBeGreaterThanOrEqual(500);
    expect(seals(file)["postgresql:1/emr"]?.seq).toBe(1);
    await exited;
  });
});
