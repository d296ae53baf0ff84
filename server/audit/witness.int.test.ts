// The seal witness names a database by what it is, not by how its URL spells the host: the same
// database reached as 127.0.0.1 and as localhost finds the same entry, so an auditor who
// connects the other way still holds the log to its witnessed seal. Files written when entries
// were keyed by the URL are still read, and moved to the database's name.
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { openDatabase, type Database } from "../db/client";
import { urlAsUser } from "../db/roles";
import { appendToStream, sealLog, verifyLog } from "../eventStore";
import { openFreshPostgresDatabase, pgUrl } from "../testing/db";
import { newStreamId, note, storeOf } from "../testing/events";
import { fileWitness, lookupWitness, witnessesIn, witnessKeyOf, type SealWitness } from "./witness";

const signing = generateKeyPairSync("ed25519");
const dir = mkdtempSync(join(tmpdir(), "emr-witness-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const newFile = () => join(dir, `witness-${++files}.json`);
const entries = (file: string) => Object.keys((JSON.parse(readFileSync(file, "utf8")) as { seals: Record<string, SealWitness> }).seals);

describe.skipIf(!pgUrl)("the seal witness of a PostgreSQL database [postgresql]", () => {
  let fresh: Awaited<ReturnType<typeof openFreshPostgresDatabase>>;
  let viaLocalhost: Database;
  const owner = async (sql: string) => {
    const client = new pg.Client({ connectionString: fresh.ownerUrl });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  beforeEach(async () => {
    fresh = await openFreshPostgresDatabase(2);
    // The same database as the app's role, its host spelt the other way.
    const url = new URL(urlAsUser(fresh.ownerUrl, new URL(pgUrl!).username));
    url.hostname = url.hostname === "localhost" ? "127.0.0.1" : "localhost";
    viaLocalhost = await openDatabase({ url: url.toString(), poolMax: 1 });
    const store = storeOf(fresh.db);
    await appendToStream(store, newStreamId(), [note(1), note(2)], { expectedVersion: "no_stream", aggregateType: "note" });
  });
  afterEach(async () => {
    await viaLocalhost?.close();
    await fresh?.drop();
  });

  it("finds the same entry by either spelling of the host (as the app's role), and a deletion of every seal is caught through the other", async () => {
    expect(viaLocalhost.location).not.toBe(fresh.db.location);
    const [one, other] = [await witnessKeyOf(fresh.db), await witnessKeyOf(viaLocalhost)];
    expect(one.key).toMatch(/^postgresql:\d+\/emr_own_/);
    expect(other.key).toBe(one.key);

    const file = newFile();
    await sealLog(storeOf(fresh.db), signing.privateKey, { witness: fileWitness(file, fresh.db) });
    expect(entries(file)).toEqual([one.key]);
    const found = witnessesIn(file, other);
    expect(found.witnesses).toEqual([expect.objectContaining({ seq: 1 })]);

    await owner("ALTER TABLE audit_seals DISABLE TRIGGER USER; DELETE FROM audit_seals; ALTER TABLE audit_seals ENABLE TRIGGER USER");
    const report = await verifyLog(storeOf(viaLocalhost), [signing.publicKey], { witnesses: witnessesIn(file, await witnessKeyOf(viaLocalhost)).witnesses });
    expect(report.ok).toBe(false);
    expect(report.firstProblem).toMatch(/seal 1.*no longer in it/);
  });

  it("reads an older file's entry under the URL, moves it to the database's name, and holds the database to one under another spelling", async () => {
    const store = storeOf(fresh.db);
    await sealLog(store, signing.privateKey);
    const [seal] = await fresh.db.sql<{ to: string; chain: string }>(
      "SELECT to_xid::text || ':' || to_position AS to, encode(chain_hash, 'hex') AS chain FROM audit_seals WHERE seq = 1",
      [],
    );
    const witness: SealWitness = { seq: 1, to: seal!.to, chainHash: seal!.chain, signedAt: new Date().toISOString() };
    const where = await witnessKeyOf(fresh.db);

    const file = newFile();
    writeFileSync(file, JSON.stringify({ version: 1, seals: { [fresh.db.location]: witness, "db.example.org:5432/other": witness } }));
    expect(await fileWitness(file, fresh.db).read()).toEqual(witness);
    expect(entries(file).sort()).toEqual(["db.example.org:5432/other", where.key].sort());

    // An older entry reached by the other spelling: this database's by its name, and held to.
    const older = newFile();
    // Another server's database of the same name (another host, or another port here) is only listed.
    const elsewhere = viaLocalhost.location.replace(/^[^:]+:\d+/, "db.example.org:5432");
    const otherPort = viaLocalhost.location.replace(/:\d+\//, ":55999/");
    writeFileSync(older, JSON.stringify({ version: 1, seals: { [viaLocalhost.location]: { ...witness, seq: 2 }, [elsewhere]: { ...witness, seq: 3 }, [otherPort]: { ...witness, seq: 4 } } }));
    const held = witnessesIn(older, where);
    expect(held.witnesses).toEqual([expect.objectContaining({ seq: 2 })]);
    expect(held.summary).toContain(`seal 2 of ${viaLocalhost.location}`);
    expect(lookupWitness(older, where).others.sort()).toEqual([elsewhere, otherPort].sort());
    expect((await verifyLog(store, [signing.publicKey], { witnesses: held.witnesses })).firstProblem).toMatch(/seal 2.*no longer in it/);
  });

  it("says which databases the file knows when it has none of this one", async () => {
    const file = newFile();
    const elsewhere: SealWitness = { seq: 3, to: "1:1", chainHash: "ab".repeat(32) };
    writeFileSync(file, JSON.stringify({ version: 1, seals: { "postgresql:1/emr": elsewhere, "db.example.org:5432/other": elsewhere } }));
    const where = await witnessKeyOf(fresh.db);
    const found = witnessesIn(file, where);
    expect(found.witnesses).toEqual([]);
    expect(found.summary).toContain(`has no seal of this database (${where.key}); it holds seals of postgresql:1/emr, db.example.org:5432/other`);
  });

  it("falls back to the URL, and says so, where the role may not call pg_control_system()", async () => {
    await owner("REVOKE EXECUTE ON FUNCTION pg_control_system() FROM PUBLIC");
    const where = await witnessKeyOf(viaLocalhost);
    expect(where).toEqual({ key: viaLocalhost.location, legacy: null });
  });
});

describe("the sealer's witness of a database it could not ask", () => {
  it("asks the database's identity again at the next pass, not keeping the failure", async () => {
    let calls = 0;
    const db = {
      mode: "postgresql" as const,
      location: "127.0.0.1:5432/emr",
      sql: async <R>() => {
        calls += 1;
        if (calls === 1) throw Object.assign(new Error("connection refused"), { code: "ECONNREFUSED" });
        return [{ system: "7", name: "emr" }] as R[];
      },
    };
    const witness = fileWitness(newFile(), db);
    await expect(witness.read()).rejects.toThrow(/connection refused/);
    expect(await witness.read()).toBeNull();
    await witness.write({ seq: 1, to: "1:1", chainHash: "ab".repeat(32) });
    expect(calls).toBe(2);
  });
});

describe("the seal witness of an embedded database", () => {
  it("is named by its folder, as before, without asking the database", async () => {
    const db = { mode: "embedded" as const, location: "/srv/emr/.data/pglite", sql: () => Promise.reject(new Error("not asked")) };
    expect(await witnessKeyOf(db)).toEqual({ key: "/srv/emr/.data/pglite", legacy: null });
  });
});
