// Tamper evidence tried as an attacker holding the database owner would: change one byte of an
// event, delete events, reorder them, forge a seal. verifyLog must find each and name it; an
// untouched log verifies.
import { generateKeyPairSync, randomUUID, type KeyObject } from "node:crypto";
import pg from "pg";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { Database } from "../db/client";
import { openFreshPostgresDatabase, openTestDatabase, pgUrl } from "../testing/db";
import { newStreamId, note, storeOf } from "../testing/events";
import { appendToStream } from "./append";
import { keyIdOf, sealLog, SealWitnessError, verifyLog, type KeyChange } from "./integrity";
import type { SealWitness } from "../audit/witness";
import { readStream } from "./read";

const signing = generateKeyPairSync("ed25519");
const publicKeys: KeyObject[] = [signing.publicKey];

type Owner = (sql: string, params?: unknown[]) => Promise<unknown[]>;

for (const kind of ["embedded", "postgresql"] as const) {
  describe.skipIf(kind === "postgresql" && !pgUrl)(`tamper evidence [${kind}]`, () => {
    let db: Database;
    let owner: Owner;
    let close: () => Promise<void>;
    // On PostgreSQL a database of its own per test, so one test's tampering never shows in
    // another's report. The embedded database is slow to create: one for its two tests, which
    // leave the log as they found it.
    const open = async () => {
      if (kind === "embedded") {
        db = await openTestDatabase("embedded");
        owner = (sql, params = []) => db.sql(sql, params);
        close = () => db.close();
      } else {
        const fresh = await openFreshPostgresDatabase(4);
        db = fresh.db;
        const client = new pg.Client({ connectionString: fresh.ownerUrl });
        await client.connect();
        owner = async (sql, params = []) => (await client.query(sql, params)).rows;
        close = async () => {
          await client.end();
          await fresh.drop();
        };
      }
    };
    if (kind === "postgresql") {
      beforeEach(open);
      afterEach(async () => close());
    } else {
      beforeAll(open);
      afterAll(async () => close());
    }
    const destructive = it.skipIf(kind === "embedded");

    /** As the owner, triggers off: what an attacker with the database could do. */
    const tamper = async (sql: string, params: unknown[] = []) => {
      await owner("ALTER TABLE events DISABLE TRIGGER USER");
      try {
        await owner(sql, params);
      } finally {
        await owner("ALTER TABLE events ENABLE TRIGGER USER");
      }
    };

    const threeStreams = async () => {
      const store = storeOf(db);
      const ids = [newStreamId(), newStreamId(), newStreamId()];
      for (const id of ids) {
        await appendToStream(store, id, [note(1), note(2)], { expectedVersion: "no_stream", aggregateType: "note" });
        await appendToStream(store, id, [note(3)], { expectedVersion: 2, aggregateType: "note" });
      }
      await sealLog(store, signing.privateKey, { perSeal: 4 });
      return { store, ids };
    };

    it("event_hash is the published definition, byte for byte (sha256 over the fields as length:value)", async () => {
      // The definition as 20261128080000 wrote it, through audit_field and audit_time; the
      // function the appends use was rewritten for speed (20261129040000) and must agree.
      const rows = (await db.sql(
        `WITH cases(prev, id, stream, v, type, ev, data, meta, occ, rec, usr, corr, caus) AS (VALUES
           (NULL::bytea, '00000000-0000-4000-8000-000000000001'::uuid, 'note-1', 1, 'NoteAdded', 1, '{"text":"a"}'::jsonb, '{}'::jsonb,
            timestamptz '2026-01-02 03:04:05.678Z', timestamptz '2026-01-02 03:04:05.679Z', 'user-1', 'corr-1', NULL::text),
           (sha256('x'), '00000000-0000-4000-8000-000000000002'::uuid, 'note-ü', 12, 'NoteAdded', 3, '{"text":"ünïcode, \\"quoted\\"", "n": [1, 2.5, null]}'::jsonb,
            '{"source":"test"}'::jsonb, timestamptz '1999-12-31 23:59:59.999999Z', timestamptz '2026-11-29 00:00:00Z', '', 'c:2', 'command:abc'))
         SELECT event_hash(prev, id, stream, v, type, ev, data, meta, occ, rec, usr, corr, caus) = sha256(convert_to(
                  encode(coalesce(prev, '\\x0000000000000000000000000000000000000000000000000000000000000000'::bytea), 'hex')
                  || audit_field(id::text) || audit_field(stream) || audit_field(v::text) || audit_field(type) || audit_field(ev::text)
                  || audit_field(data::text) || audit_field(meta::text) || audit_field(audit_time(occ)) || audit_field(audit_time(rec))
                  || audit_field(usr) || audit_field(corr) || audit_field(caus), 'UTF8')) AS same
           FROM cases`,
        [],
      )) as { same: boolean }[];
      expect(rows.map((r) => r.same)).toEqual([true, true]);
    });

    it("an untouched log verifies, sealed in signed checkpoints", async () => {
      const { store } = await threeStreams();
      // Text whose length in characters differs from its UTF-16 and UTF-8 lengths, and a quote.
      await appendToStream(store, newStreamId(), [note(1, { data: { text: 'ünïcode 🩺 "quoted"\n', n: 1 }, userId: "usér 😀" })], { expectedVersion: "no_stream", aggregateType: "note" });
      await sealLog(store, signing.privateKey);
      const report = await verifyLog(store, publicKeys);
      expect(report.problems).toEqual([]);
      expect(report.ok).toBe(true);
      expect(report.sealsChecked).toBeGreaterThanOrEqual(3);
      expect(report.eventsUnsealed).toBe(0);
      expect(report.eventsWithoutHash).toBe(0);
    });

    it("finds one changed byte in one event's data and names that event", async () => {
      const { store, ids } = await threeStreams();
      const [, second] = await readStream(store, ids[1]!);
      await tamper(`UPDATE events SET data = jsonb_set(data, '{text}', '"note 3"') WHERE event_id = $1`, [second!.metadata.eventId]);
      const report = await verifyLog(store, publicKeys);
      expect(report.ok).toBe(false);
      expect(report.problems[0]).toMatchObject({ kind: "event_hash", eventId: second!.metadata.eventId });
      expect(report.firstProblem).toContain(second!.metadata.eventId);
      await tamper(`UPDATE events SET data = jsonb_set(data, '{text}', '"note 2"') WHERE event_id = $1`, [second!.metadata.eventId]);
      expect((await verifyLog(store, publicKeys)).ok).toBe(true);
    });

    destructive("recomputes each hash itself: an owner who replaces event_hash() to vouch for a changed event does not hide it", async () => {
      const { store, ids } = await threeStreams();
      const [, second] = await readStream(store, ids[1]!);
      await tamper(`UPDATE events SET data = jsonb_set(data, '{text}', '"rewritten"') WHERE event_id = $1`, [second!.metadata.eventId]);
      // The function the database holds is the owner's to replace: this one answers an event's
      // stored hash, so any stored content "matches"; the stored hashes, and so the seals, are untouched.
      await owner(`CREATE OR REPLACE FUNCTION event_hash(
          p_prev bytea, p_event_id uuid, p_stream_id text, p_version integer, p_event_type text, p_event_version integer,
          p_data jsonb, p_metadata jsonb, p_occurred_at timestamptz, p_recorded_at timestamptz,
          p_user_id text, p_correlation_id text, p_causation_id text
        ) RETURNS bytea LANGUAGE sql STABLE AS $$ SELECT hash FROM events WHERE event_id = p_event_id $$`);
      const report = await verifyLog(store, publicKeys);
      expect(report.ok).toBe(false);
      expect(report.problems[0]).toMatchObject({ kind: "event_hash", eventId: second!.metadata.eventId });
    });

    destructive("finds a deleted event, in the middle of a stream and at its end", async () => {
      const { store, ids } = await threeStreams();
      const events = await readStream(store, ids[0]!);
      await tamper("DELETE FROM events WHERE event_id = $1", [events[1]!.metadata.eventId]);
      let report = await verifyLog(store, publicKeys);
      expect(report.problems).toContainEqual(expect.objectContaining({ kind: "stream_gap", streamId: ids[0], version: 3 }));
      expect(report.problems.some((p) => p.kind === "seal")).toBe(true);

      const other = await readStream(store, ids[2]!);
      await tamper("DELETE FROM events WHERE event_id = $1", [other[2]!.metadata.eventId]);
      report = await verifyLog(store, publicKeys);
      expect(report.problems).toContainEqual(expect.objectContaining({ kind: "stream_tail", streamId: ids[2] }));
    });

    destructive("finds an event written by hand after the last seal: back-dated with a valid hash, or with no hash at all", async () => {
      const { store, ids } = await threeStreams();
      const [, , last] = await readStream(store, ids[0]!);
      // What the app's role could do before it lost INSERT on events: a row with a recorded time
      // of its choosing, chained with event_hash() from the stream's last hash, the stream row moved on.
      await tamper(
        `WITH prev AS (SELECT hash FROM events WHERE event_id = $2)
         INSERT INTO events (event_id, stream_id, aggregate_type, event_type, version, data, occurred_at, recorded_at, user_id, correlation_id, hash)
         SELECT $1::uuid, $3, 'note', 'NoteAdded', 4, '{"text": "note 4"}', $4::timestamptz, $4::timestamptz, 'someone', 'forged',
                event_hash(prev.hash, $1::uuid, $3, 4, 'NoteAdded', 1, '{"text": "note 4"}'::jsonb, '{}'::jsonb, $4::timestamptz, $4::timestamptz, 'someone', 'forged', NULL)
           FROM prev`,
        [randomUUID(), last!.metadata.eventId, ids[0], "2026-01-01T00:00:00Z"],
      );
      await owner("UPDATE streams SET version = 4, last_hash = (SELECT hash FROM events WHERE stream_id = $1 AND version = 4) WHERE stream_id = $1", [ids[0]]);
      let report = await verifyLog(store, publicKeys);
      expect(report.problems).toEqual([expect.objectContaining({ kind: "event_hash", streamId: ids[0], version: 4 })]);
      expect(report.firstProblem).toContain("recorded before the event preceding it");

      await tamper(
        `INSERT INTO events (event_id, stream_id, aggregate_type, event_type, version, data, occurred_at, user_id, correlation_id)
         VALUES ($1::uuid, $2, 'note', 'NoteAdded', 4, '{"text": "note 4"}', now(), 'someone', 'forged')`,
        [randomUUID(), ids[1]],
      );
      await owner("UPDATE streams SET version = 4, last_hash = NULL WHERE stream_id = $1", [ids[1]]);
      report = await verifyLog(store, publicKeys);
      expect(report.problems).toContainEqual(expect.objectContaining({ kind: "event_hash", streamId: ids[1], version: 4, message: expect.stringContaining("has no hash") }));
    });

    destructive("finds a stream not yet sealed, rewritten with its hashes removed", async () => {
      const { store } = await threeStreams();
      const id = newStreamId();
      await appendToStream(store, id, [note(1), note(2)], { expectedVersion: "no_stream", aggregateType: "note" });
      // Changed content that no hash can contradict, since there is none: before, this verified.
      await tamper(`UPDATE events SET data = jsonb_set(data, '{text}', '"rewritten"'), hash = NULL WHERE stream_id = $1`, [id]);
      const report = await verifyLog(store, publicKeys);
      expect(report.ok).toBe(false);
      expect(report.problems).toContainEqual(expect.objectContaining({ kind: "stream_tail", streamId: id, message: expect.stringContaining("does not carry the hash") }));
    });

    destructive("finds events whose versions in a stream were swapped", async () => {
      const { store, ids } = await threeStreams();
      const [a, b] = await readStream(store, ids[1]!);
      // Swap the two versions through a free number (the (stream, version) key is unique).
      await tamper("UPDATE events SET version = 1000 WHERE event_id = $1", [a!.metadata.eventId]);
      await tamper("UPDATE events SET version = 1 WHERE event_id = $1", [b!.metadata.eventId]);
      await tamper("UPDATE events SET version = 2 WHERE event_id = $1", [a!.metadata.eventId]);
      const report = await verifyLog(store, publicKeys);
      expect(report.problems[0]).toMatchObject({ kind: "event_hash", streamId: ids[1] });
    });

    destructive("finds events that swapped places in the commit order, every hash intact", async () => {
      const { store, ids } = await threeStreams();
      const [x] = await readStream(store, ids[0]!);
      const [y] = await readStream(store, ids[2]!);
      // Two different transactions swap their places in the commit order; every hash is intact.
      await tamper(
        `UPDATE events e SET transaction_id = CASE WHEN e.event_id = $1 THEN (SELECT transaction_id FROM events WHERE event_id = $2)
                                                   ELSE (SELECT transaction_id FROM events WHERE event_id = $1) END
          WHERE e.event_id IN ($1, $2)`,
        [x!.metadata.eventId, y!.metadata.eventId],
      );
      const report = await verifyLog(store, publicKeys);
      expect(report.problems.some((p) => p.kind === "seal")).toBe(true);
      expect(report.problems.every((p) => p.kind === "seal")).toBe(true);
    });

    destructive("a rewrite whose seals were deleted is caught by the seal witnessed outside the database, and the sealer will not sign over it", async () => {
      const { store, ids } = await threeStreams();
      let witnessed: SealWitness | null = null;
      const witness = { read: () => witnessed, write: (w: SealWitness) => void (witnessed = w) };
      await appendToStream(store, ids[0]!, [note(4)], { expectedVersion: 3, aggregateType: "note" });
      await sealLog(store, signing.privateKey, { witness });
      expect(witnessed).toMatchObject({ seq: 4, chainHash: expect.stringMatching(/^[0-9a-f]{64}$/) });
      expect((await verifyLog(store, publicKeys, { witnesses: [witnessed!] })).ok).toBe(true);

      // The owner rewrites one event, rechains its stream with the database's own event_hash(),
      // and deletes every seal: without a witness, the log reads as never sealed.
      await owner("ALTER TABLE audit_seals DISABLE TRIGGER USER");
      await tamper(`UPDATE events SET data = jsonb_set(data, '{text}', '"rewritten"') WHERE stream_id = $1 AND version = 2`, [ids[0]]);
      await owner(`DO $$ DECLARE r record; prev bytea := NULL; BEGIN
          ALTER TABLE events DISABLE TRIGGER USER;
          FOR r IN SELECT * FROM events WHERE stream_id = '${ids[0]}' ORDER BY version LOOP
            prev := event_hash(prev, r.event_id, r.stream_id, r.version, r.event_type, r.event_version, r.data, r.metadata,
                               r.occurred_at, r.recorded_at, r.user_id, r.correlation_id, r.causation_id);
            UPDATE events SET hash = prev WHERE global_position = r.global_position;
          END LOOP;
          UPDATE streams SET last_hash = prev WHERE stream_id = '${ids[0]}';
          ALTER TABLE events ENABLE TRIGGER USER;
        END $$`);
      await owner("DELETE FROM audit_seals");
      await owner("ALTER TABLE audit_seals ENABLE TRIGGER USER");
      expect((await verifyLog(store, publicKeys)).ok).toBe(true);

      const report = await verifyLog(store, publicKeys, { witnesses: [witnessed!] });
      expect(report.ok).toBe(false);
      expect(report.firstProblem).toMatch(/seal 4.*no longer in it: seals were deleted/);
      await expect(sealLog(store, signing.privateKey, { witness })).rejects.toBeInstanceOf(SealWitnessError);
      expect(await owner("SELECT count(*)::int AS n FROM audit_seals")).toEqual([{ n: 0 }]);
      // A seal put back with other content is no better.
      await sealLog(store, signing.privateKey, { perSeal: 100 });
      const replaced = await verifyLog(store, publicKeys, { witnesses: [{ ...witnessed!, seq: 1 }] });
      expect(replaced.firstProblem).toMatch(/seal 1.*differs from it: seals were replaced/);
    });

    destructive("a log emptied and written again in the same database is not taken for a new database at that place", async () => {
      const { store, ids } = await threeStreams();
      let witnessed: SealWitness | null = null;
      const witness = { read: () => witnessed, write: (w: SealWitness) => void (witnessed = w) };
      await sealLog(store, signing.privateKey, { witness });
      expect(witnessed).toMatchObject({ seq: 3, database: expect.stringMatching(/^\d+\/\d+$/) });
      // The owner empties the log and the seals, and writes a history of their own: every event in
      // it is newer than the witnessed seal, as in a database created anew at the same place.
      await owner("ALTER TABLE audit_seals DISABLE TRIGGER USER");
      await owner("DELETE FROM audit_seals");
      await owner("ALTER TABLE audit_seals ENABLE TRIGGER USER");
      await tamper("DELETE FROM events");
      await owner("DELETE FROM streams");
      await owner("DELETE FROM outbox");
      await appendToStream(store, ids[0]!, [note(1), note(2)], { expectedVersion: "no_stream", aggregateType: "note" });
      expect((await verifyLog(store, publicKeys)).ok).toBe(true);
      const report = await verifyLog(store, publicKeys, { witnesses: [witnessed!] });
      expect(report.firstProblem).toMatch(/seal 3.*no longer in it: seals were deleted/);
      await expect(sealLog(store, signing.privateKey, { witness })).rejects.toBeInstanceOf(SealWitnessError);
      // A witness signed in another database (one dropped and created again here) still gives way.
      const reset: SealWitness = { ...witnessed!, database: "1/1", signedAt: "2000-01-01T00:00:00.000Z" };
      expect((await verifyLog(store, publicKeys, { witnesses: [reset] })).ok).toBe(true);
    });

    destructive("the sealer's witness of an earlier database at the same place does not hold up a new one (a reset)", async () => {
      const { store } = await threeStreams();
      const earlier: SealWitness = { seq: 9, to: "1:1", chainHash: "ab".repeat(32), signedAt: "2000-01-01T00:00:00.000Z" };
      let witnessed: SealWitness | null = earlier;
      const witness = { read: () => witnessed, write: (w: SealWitness) => void (witnessed = w) };
      expect((await verifyLog(store, publicKeys, { witnesses: [earlier] })).ok).toBe(true);
      await sealLog(store, signing.privateKey, { witness });
      // Nothing new to seal: the newest seal (the other sealer's) is witnessed instead.
      expect(witnessed).toMatchObject({ seq: 3 });
      // An extract's seal (no time) is always held to.
      expect((await verifyLog(store, publicKeys, { witnesses: [{ seq: 9, to: "1:1", chainHash: "ab".repeat(32) }] })).ok).toBe(false);
    });

    destructive("a log sealed across a key rotation verifies with both public keys, and without the old one names its key; the sealer reports the change", async () => {
      const { store, ids } = await threeStreams();
      const rotated = generateKeyPairSync("ed25519");
      await appendToStream(store, ids[0]!, [note(4)], { expectedVersion: 3, aggregateType: "note" });
      const changes: KeyChange[] = [];
      await sealLog(store, rotated.privateKey, { onKeyChange: (change) => changes.push(change) });
      const oldId = keyIdOf(signing.publicKey);
      expect(changes).toEqual([{ seq: 4, previousKeyId: oldId, keyId: keyIdOf(rotated.publicKey) }]);
      // Signed on top of its own seal, the new key is no change.
      await appendToStream(store, ids[1]!, [note(4)], { expectedVersion: 3, aggregateType: "note" });
      await sealLog(store, rotated.privateKey, { onKeyChange: (change) => changes.push(change) });
      expect(changes).toHaveLength(1);

      expect((await verifyLog(store, [rotated.publicKey, signing.publicKey])).problems).toEqual([]);
      const withoutOld = await verifyLog(store, [rotated.publicKey]);
      expect(withoutOld.ok).toBe(false);
      expect(withoutOld.problems.map((p) => (p.kind === "seal" ? p.seq : null))).toEqual([1, 2, 3]);
      expect(withoutOld.firstProblem).toContain(`signed with key ${oldId}, which is not among the verifying keys`);
      expect(withoutOld.firstProblem).toContain("AUDIT_VERIFY_PUBLIC_KEYS");
    });

    destructive("the sealer does not sign on top of a newest seal that does not verify, inserted by a role that may insert seals", async () => {
      const { store, ids } = await threeStreams();
      // The app's role may insert seals (the sealer runs in the app): a row of its own making, unsigned.
      await owner(
        `INSERT INTO audit_seals (seq, from_xid, from_position, to_xid, to_position, event_count, chain_hash, key_id, signature)
         SELECT seq + 1, to_xid, to_position, to_xid, to_position, 0, chain_hash, key_id, decode(repeat('00', 64), 'hex') FROM audit_seals ORDER BY seq DESC LIMIT 1`,
      );
      await appendToStream(store, ids[0]!, [note(4)], { expectedVersion: 3, aggregateType: "note" });
      const before = await owner("SELECT count(*)::int AS n FROM audit_seals");
      await expect(sealLog(store, signing.privateKey, { verifyWith: publicKeys })).rejects.toThrow(/seal 4 .*does not verify/);
      expect(await owner("SELECT count(*)::int AS n FROM audit_seals")).toEqual(before);
      // One numbered past a gap is named as such, after the seal it follows.
      await owner(
        `INSERT INTO audit_seals (seq, from_xid, from_position, to_xid, to_position, event_count, chain_hash, key_id, signature)
         VALUES (999, NULL, NULL, '1', 1, 1, decode(repeat('00', 32), 'hex'), 'k', decode(repeat('00', 64), 'hex'))`,
      );
      const report = await verifyLog(store, publicKeys);
      expect(report.problems.map((p) => p.message)).toContainEqual(expect.stringMatching(/^seal 999 .*follows seal 4: seals 5 to 998 are missing, or this seal was inserted/));
      expect(report.problems.map((p) => p.message)).toContainEqual(expect.stringMatching(/^seal 999 .*does not start where seal 4 ended/));
    });

    destructive("the sealer does not sign on top of a seal by a key not among its verifying keys, and does once it is given", async () => {
      const { store, ids } = await threeStreams();
      const rotated = generateKeyPairSync("ed25519");
      await appendToStream(store, ids[0]!, [note(4)], { expectedVersion: 3, aggregateType: "note" });
      await expect(sealLog(store, rotated.privateKey, { verifyWith: [rotated.publicKey] })).rejects.toThrow(/AUDIT_VERIFY_PUBLIC_KEYS/);
      expect(await sealLog(store, rotated.privateKey, { verifyWith: [rotated.publicKey, signing.publicKey] })).toMatchObject({ seals: 1 });
      expect((await verifyLog(store, [rotated.publicKey, signing.publicKey])).ok).toBe(true);
    });

    destructive("refuses a seal signed with a key it does not know, and a seal altered by the owner", async () => {
      const { store } = await threeStreams();
      const stranger = generateKeyPairSync("ed25519").publicKey;
      expect((await verifyLog(store, [stranger])).problems[0]).toMatchObject({ kind: "seal" });
      await owner("ALTER TABLE audit_seals DISABLE TRIGGER USER");
      await owner("UPDATE audit_seals SET signature = decode(repeat('00', 64), 'hex') WHERE seq = 1");
      await owner("ALTER TABLE audit_seals ENABLE TRIGGER USER");
      const report = await verifyLog(store, publicKeys);
      expect(report.problems).toContainEqual(expect.objectContaining({ kind: "seal", seq: 1, message: expect.stringMatching(/signature/) }));
    });
  });
}
