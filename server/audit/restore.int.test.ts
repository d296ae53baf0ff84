// A backup restored on purpose: the log no longer holds a seal the witness saw (taken after seal
// 1, restored after seal 2 was witnessed), so verification fails and the sealer stops, naming the
// command that accepts it. Accepting checks the log as restored, records who and why in the log,
// keeps the old witness in the file's history, and lets the sealer go on from the newest seal.
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { appendToStream, readStream, sealLog, SealWitnessError, verifyLog, type Store } from "../eventStore";
import { restoreStream } from "../domain/operations/events";
import { openFreshPostgresDatabase, pgUrl } from "../testing/db";
import { newStreamId, note, storeOf } from "../testing/events";
import { acceptRestore } from "./restore";
import { fileWitness, witnessesIn, witnessKeyOf, type SealWitness, type SetAside } from "./witness";

const signing = generateKeyPairSync("ed25519");
const keys = [signing.publicKey];
const dir = mkdtempSync(join(tmpdir(), "emr-restore-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!pgUrl)("accepting a restored backup [postgresql]", () => {
  let fresh: Awaited<ReturnType<typeof openFreshPostgresDatabase>>;
  let store: Store;
  let file: string;
  let sealed: SealWitness;
  /** Seal 2 as the witness saw it before the restore: the restored database never held it. */
  let lost: SealWitness;
  const reason = "restored the backup of 2026-11-30 02:00 after the disk failure (OPS-112)";

  beforeEach(async () => {
    fresh = await openFreshPostgresDatabase(2);
    store = storeOf(fresh.db);
    file = join(dir, `witness-${Date.now()}-${Math.random().toString(36).slice(2)}.json`);
    await appendToStream(store, newStreamId(), [note(1), note(2)], { expectedVersion: "no_stream", aggregateType: "note" });
    const witness = fileWitness(file, fresh.db);
    await sealLog(store, signing.privateKey, { witness });
    sealed = (await witness.read())!;
    // What the file holds after a later seal the backup does not have.
    lost = { seq: 2, to: "999999:999", chainHash: "ab".repeat(32), keyId: sealed.keyId!, signedAt: new Date().toISOString() };
    const where = await witnessKeyOf(fresh.db);
    writeFileSync(file, JSON.stringify({ version: 1, seals: { [where.key]: lost } }));
  });
  afterEach(async () => fresh?.drop());

  it("fails verification and stops the sealer naming --accept-restore; accepted, the log verifies and the sealer goes on", async () => {
    const where = await witnessKeyOf(fresh.db);
    const before = await verifyLog(store, keys, { witnesses: witnessesIn(file, where).witnesses });
    expect(before.firstProblem).toMatch(/seal 2.*no longer in it.*npm run audit:verify -- --accept-restore --reason/);
    const stopped = sealLog(store, signing.privateKey, { witness: fileWitness(file, fresh.db) });
    await expect(stopped).rejects.toBeInstanceOf(SealWitnessError);
    await expect(stopped).rejects.toThrow(/--accept-restore/);

    const done = await acceptRestore(fresh.db, store, keys, file, { reason, by: "cli:dba" });
    expect(done.witnessed).toEqual(lost);
    expect(done.baseline).toMatchObject({ seq: 1, to: sealed.to, chainHash: sealed.chainHash });

    // In the log: who, why, and both seals.
    const [event] = await readStream(store, restoreStream(done.eventId));
    expect(event).toMatchObject({
      type: "AuditRestoreAccepted",
      data: { reason, witnessed: { seq: 2, chainHash: lost.chainHash, signedAt: lost.signedAt }, baseline: { seq: 1, chainHash: sealed.chainHash } },
      metadata: { userId: "cli:dba" },
    });
    // In the file: the new baseline, and the witness set aside, not deleted.
    const content = JSON.parse(readFileSync(file, "utf8")) as { seals: Record<string, SealWitness>; history: SetAside[] };
    expect(content.seals[where.key]).toMatchObject({ seq: 1, chainHash: sealed.chainHash });
    expect(content.history).toEqual([expect.objectContaining({ entry: where.key, witness: lost, by: "cli:dba", reason, eventId: done.eventId })]);

    expect((await verifyLog(store, keys, { witnesses: witnessesIn(file, where).witnesses })).problems).toEqual([]);
    const next = await sealLog(store, signing.privateKey, { witness: fileWitness(file, fresh.db) });
    expect(next.seals).toBe(1); // the acceptance itself is sealed
    expect(witnessesIn(file, where).witnesses).toEqual([expect.objectContaining({ seq: 2 })]);
    expect((JSON.parse(readFileSync(file, "utf8")) as { history: SetAside[] }).history).toHaveLength(1);
  });

  it("refuses a restored log that does not verify, and a witness the database still holds", async () => {
    const client = new pg.Client({ connectionString: fresh.ownerUrl });
    await client.connect();
    try {
      await client.query("ALTER TABLE events DISABLE TRIGGER USER");
      await client.query(`UPDATE events SET data = jsonb_set(data, '{text}', '"changed"') WHERE global_position = (SELECT min(global_position) FROM events)`);
      await client.query("ALTER TABLE events ENABLE TRIGGER USER");
    } finally {
      await client.end();
    }
    await expect(acceptRestore(fresh.db, store, keys, file, { reason, by: "cli:dba" })).rejects.toThrow(/does not verify, so it cannot be the new baseline/);
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual({ version: 1, seals: { [(await witnessKeyOf(fresh.db)).key]: lost } });

    writeFileSync(file, JSON.stringify({ version: 1, seals: { [(await witnessKeyOf(fresh.db)).key]: sealed } }));
    await expect(acceptRestore(fresh.db, store, keys, file, { reason, by: "cli:dba" })).rejects.toThrow(/seal 1 is not missing .*nothing to accept/);
  });
});
