// The store's promises tried the way an attacker and an operator would: the app's own database
// role against history, repeats racing their first run in every expected-version mode, streams
// whose order the global log must keep under multi-append transactions, and readers that only
// wait for transactions that can write this database.
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { urlAsUser } from "../db/roles";
import { describeEachDatabase, describePostgres, openFreshPostgresDatabase, pgOwnerUrl, pgUrl } from "../testing/db";
import { newStreamId, note, storeOf } from "../testing/events";
import { appendToStream } from "./append";
import { isRetryableTransactionError, storeIn } from "./db";
import { logReaderLag, readAll, readStream } from "./read";
import type { ExpectedVersion, LogCheckpoint, StoredEvent } from "./types";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describePostgres("the app's database role cannot rewrite history", () => {
  let app: pg.Client;
  beforeAll(async () => {
    app = new pg.Client({ connectionString: pgUrl! });
    await app.connect();
  });
  afterAll(async () => {
    await app.end();
  });

  const refusal = async (sql: string) => {
    try {
      await app.query(sql);
      return "accepted";
    } catch (error) {
      return (error as { code?: string }).code ?? "error";
    }
  };

  it("connects as a member of emr_app that is neither superuser nor owner", async () => {
    const { rows } = await app.query<{ user: string; superuser: boolean; member: boolean; owner: string }>(
      `SELECT current_user AS user, r.rolsuper AS superuser, pg_has_role(current_user, 'emr_app', 'member') AS member,
              (SELECT tableowner FROM pg_tables WHERE tablename = 'events') AS owner
         FROM pg_roles r WHERE r.rolname = current_user`,
    );
    expect(rows[0]).toMatchObject({ superuser: false, member: true });
    expect(rows[0]!.owner).not.toBe(rows[0]!.user);
  });

  it("lets only the logins granted it connect: another install's login, a member of emr_app too, cannot", async () => {
    const owner = new pg.Client({ connectionString: pgOwnerUrl! });
    await owner.connect();
    const other = `emr_other_install_${Math.random().toString(36).slice(2, 8)}`;
    try {
      const { rows } = await owner.query<{ public_connect: boolean; app_connect: boolean }>(
        `SELECT has_database_privilege('public', current_database(), 'CONNECT') AS public_connect,
                has_database_privilege($1, current_database(), 'CONNECT') AS app_connect`,
        [new URL(pgUrl!).username],
      );
      expect(rows[0]).toEqual({ public_connect: false, app_connect: true });
      await owner.query(`CREATE ROLE ${other} LOGIN IN ROLE emr_app`);
      const stranger = new pg.Client({ connectionString: Object.assign(new URL(pgOwnerUrl!), { username: other, password: "" }).toString() });
      await expect(stranger.connect()).rejects.toThrow(/permission denied for database/);
    } finally {
      await owner.query(`DROP ROLE IF EXISTS ${other}`).catch(() => undefined);
      await owner.end();
    }
  });

  it("on a new install, the logins other installs on the server already had get no CONNECT from the migrations", { timeout: 60_000 }, async () => {
    const owner = new pg.Client({ connectionString: pgOwnerUrl! });
    await owner.connect();
    const other = `emr_other_install_${Math.random().toString(36).slice(2, 8)}`;
    let fresh: Awaited<ReturnType<typeof openFreshPostgresDatabase>> | null = null;
    try {
      // Another install's login, there before this install's migrations ran.
      await owner.query(`CREATE ROLE ${other} LOGIN IN ROLE emr_app`);
      fresh = await openFreshPostgresDatabase(1, { runMigrations: true });
      const [row] = await fresh.db.sql<{ other: boolean; mine: boolean }>(
        "SELECT has_database_privilege($1, current_database(), 'CONNECT') AS other, has_database_privilege(current_user, current_database(), 'CONNECT') AS mine",
        [other],
      );
      // Its own login is granted after the migrations (README's DBA steps; the harness alike).
      expect(row).toEqual({ other: false, mine: true });
    } finally {
      await fresh?.drop();
      await owner.query(`DROP ROLE IF EXISTS ${other}`).catch(() => undefined);
      await owner.end();
    }
  });

  it.each([
    ["ALTER TABLE events DISABLE TRIGGER ALL"],
    ["ALTER TABLE events DISABLE TRIGGER events_no_update_delete"],
    ["SET session_replication_role = replica"],
    ["DROP TRIGGER events_no_update_delete ON events"],
    ["CREATE OR REPLACE FUNCTION events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$"],
    ["ALTER TABLE events ALTER COLUMN data TYPE jsonb USING '{}'::jsonb"],
    ["ALTER TABLE events DROP CONSTRAINT events_stream_version_key"],
    ["DROP TABLE events"],
    ["DROP TABLE events CASCADE"],
    ["UPDATE events SET data = '{}'::jsonb"],
    ["DELETE FROM events"],
    ["TRUNCATE events"],
    ["ALTER TABLE access_log DISABLE TRIGGER ALL"],
    ["UPDATE access_log SET user_id = 'nobody'"],
    ["DELETE FROM access_log"],
    ["TRUNCATE access_log"],
    ["DROP TABLE access_log"],
    ["CREATE TABLE events_copy AS SELECT * FROM events"],
    ["CREATE OR REPLACE FUNCTION append_to_stream(text, text, integer, uuid[], text[], integer[], jsonb[], jsonb[], timestamptz[], text[], text[], text[]) RETURNS void LANGUAGE sql AS 'SELECT 1'"],
    ["DELETE FROM \"_prisma_migrations\""],
    // Events come in only through append_to_stream, which takes the time and chains the hash:
    // a row written by hand could carry any recorded time and a hash made with event_hash().
    [
      "INSERT INTO events (event_id, stream_id, aggregate_type, event_type, version, data, occurred_at, recorded_at, user_id, correlation_id) VALUES (gen_random_uuid(), 'patient-forged', 'patient', 'PatientRegistered', 1, '{}', now(), '2026-11-01', 'someone', 'forged')",
    ],
    ["UPDATE streams SET version = version + 1"],
    ["INSERT INTO streams (stream_id, stream_type, version) VALUES ('patient-forged', 'patient', 1)"],
    ["DELETE FROM streams"],
    // Positions are drawn by append_to_stream alone: a hole in global_position is no append's.
    ["SELECT nextval('events_global_position_seq')"],
    ["SELECT append_chain_columns(NULL, 'patient-x', 0, ARRAY[gen_random_uuid()], ARRAY['T'], ARRAY[1], '[{}]', NULL, ARRAY[now()], ARRAY['u'], ARRAY['c'], ARRAY[NULL])"],
  ])("refuses %s", async (sql) => {
    expect(await refusal(sql)).toMatch(/^42/); // 42501 insufficient privilege / must be owner
  });

  it("cannot date a break-the-glass grant, a review, an audit extract, a seal or a data key: the database stamps them, bounds a grant to 4 hours, and no update moves them", async () => {
    const near = (t: Date) => Math.abs(t.getTime() - Date.now()) < 60_000;
    // In a transaction rolled back at the end: the shared database's review list stays as it was.
    await app.query("BEGIN");
    try {
      const grant = await app.query<{ id: string; granted_at: Date; expires_at: Date }>(
        `INSERT INTO emergency_access (id, user_id, patient_id, reason, granted_at, expires_at, correlation_id)
         VALUES (gen_random_uuid(), 'someone', gen_random_uuid(), 'backdated by the app role', '2020-01-01', '2020-01-01 03:00', 'forged')
         RETURNING id, granted_at, expires_at`,
      );
      expect(near(grant.rows[0]!.granted_at)).toBe(true);
      const id = grant.rows[0]!.id;
      const review = await app.query<{ reviewed_at: Date }>(
        "INSERT INTO emergency_access_review (access_id, reviewer_id, note, reviewed_at) VALUES ($1, 'someone else', 'backdated', '2020-01-01') RETURNING reviewed_at",
        [id],
      );
      expect(near(review.rows[0]!.reviewed_at)).toBe(true);
      const extract = await app.query<{ id: string; exported_at: Date }>(
        `INSERT INTO audit_exports (id, user_id, exported_at, view, format, filter, correlation_id)
         VALUES (gen_random_uuid(), 'someone', '2020-01-01', 'access', 'csv', '{}', 'forged') RETURNING id, exported_at`,
      );
      expect(near(extract.rows[0]!.exported_at)).toBe(true);
      const signature = await app.query<{ signed_at: Date }>(
        "INSERT INTO audit_export_signatures (export_id, signed_at, rows, sha256) VALUES ($1, '2099-01-01', 0, '\\x00') RETURNING signed_at",
        [extract.rows[0]!.id],
      );
      expect(near(signature.rows[0]!.signed_at)).toBe(true);
      // A seal dated an hour ago would tell the console sealing keeps up when no sealer ran; a
      // data key dated 2020, that it existed before its patient. Neither time is signed or wrapped.
      const seal = await app.query<{ sealed_at: Date }>(
        `INSERT INTO audit_seals (seq, to_xid, to_position, event_count, chain_hash, key_id, signature, sealed_at)
         VALUES (9000000000000, '1', 1, 1, '\\x00', 'forged', '\\x00', now() - interval '1 hour') RETURNING sealed_at`,
      );
      expect(near(seal.rows[0]!.sealed_at)).toBe(true);
      const key = await app.query<{ created_at: Date }>(
        "INSERT INTO phi_keys (subject_id, wrapped_key, master_key_id, created_at) VALUES ($1, 'd3JhcHBlZA==', 'k1', '2020-01-01') RETURNING created_at",
        [`stamped-${Math.random().toString(36).slice(2, 10)}`],
      );
      expect(near(key.rows[0]!.created_at)).toBe(true);
      await app.query("SAVEPOINT moved");
      for (const sql of [
        "UPDATE emergency_access SET granted_at = '2020-01-01' WHERE id = $1",
        "UPDATE emergency_access SET expires_at = '2099-01-01' WHERE id = $1",
        "UPDATE emergency_access_review SET reviewed_at = '2020-01-01' WHERE access_id = $1",
      ]) {
        expect(await app.query(sql, [id]).then(() => "accepted", (error: { code?: string }) => error.code)).toBe("42501");
        await app.query("ROLLBACK TO SAVEPOINT moved");
      }
      for (const sql of ["UPDATE audit_exports SET exported_at = '2020-01-01' WHERE id = $1", "UPDATE audit_export_signatures SET signed_at = '2020-01-01' WHERE export_id = $1"]) {
        expect(await app.query(sql, [extract.rows[0]!.id]).then(() => "accepted", (error: { code?: string }) => error.code)).toBe("42501");
        await app.query("ROLLBACK TO SAVEPOINT moved");
      }
      // The finding's grant: backdated to 2020 and lasting until 2099. Its date is the database's,
      // and its length is refused.
      const forever = await app
        .query(
          `INSERT INTO emergency_access (id, user_id, patient_id, reason, granted_at, expires_at, correlation_id)
           VALUES (gen_random_uuid(), 'someone', gen_random_uuid(), 'standing access', '2020-01-01', '2099-01-01', 'forged')`,
        )
        .then(() => "accepted", (error: { code?: string }) => error.code);
      expect(forever).toBe("23514");
    } finally {
      await app.query("ROLLBACK");
    }
  });

  it("cannot pass for the owner by shadowing the catalog with a temporary table, where it may create them", { timeout: 60_000 }, async () => {
    // The stamps and the erased-key guard ask pg_class who owns the table; a session's temporary
    // schema is searched before pg_catalog for a bare table name. The migrations take TEMPORARY
    // from PUBLIC only where the migrating role owns the database: granted here to the same effect,
    // on a database of its own.
    const fresh = await openFreshPostgresDatabase(1);
    const owner = new pg.Client({ connectionString: fresh.ownerUrl });
    const login = new pg.Client({ connectionString: urlAsUser(fresh.ownerUrl, new URL(pgUrl!).username) });
    try {
      await owner.connect();
      await owner.query("DO $$ BEGIN EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO emr_app', current_database()); END $$");
      await login.connect();
      await login.query(
        `CREATE TEMP TABLE pg_class AS
           SELECT c.oid, (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = 'emr_app') AS relowner
             FROM pg_catalog.pg_class c WHERE c.relname IN ('access_log', 'emergency_access', 'audit_seals', 'phi_keys')`,
      );
      // The shadow is in place: a bare pg_class now names emr_app the owner of access_log.
      const shadowed = await login.query<{ owner: boolean }>("SELECT pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = 'access_log'::regclass), 'MEMBER') AS owner");
      expect(shadowed.rows[0]!.owner).toBe(true);
      const read = await login.query<{ accessed_at: Date }>(
        "INSERT INTO access_log (accessed_at, user_id, patient_id, procedure, correlation_id) VALUES ('2001-01-01', 'someone', 'p', 'patient.byId', 'forged') RETURNING accessed_at",
      );
      expect(Math.abs(read.rows[0]!.accessed_at.getTime() - Date.now())).toBeLessThan(60_000);
      const grant = await login.query<{ granted_at: Date }>(
        `INSERT INTO emergency_access (id, user_id, patient_id, reason, granted_at, expires_at, correlation_id)
         VALUES (gen_random_uuid(), 'someone', gen_random_uuid(), 'backdated', '2001-01-01', '2001-01-01 03:00', 'forged') RETURNING granted_at`,
      );
      expect(Math.abs(grant.rows[0]!.granted_at.getTime() - Date.now())).toBeLessThan(60_000);
      const erased = await login
        .query("INSERT INTO phi_keys (subject_id, wrapped_key, master_key_id, erased_at) VALUES ('not-yet-written', NULL, NULL, now())")
        .then(() => "accepted", (error: { code?: string }) => error.code);
      expect(erased).toBe("ES004");
    } finally {
      await login.end().catch(() => undefined);
      await owner.end().catch(() => undefined);
      await fresh.drop();
    }
  });

  /** The app role's statement inside the open transaction, undone either way: "accepted" or its SQLSTATE. */
  const codeOf = async (sql: string, params: unknown[] = []) => {
    await app.query("SAVEPOINT attempt");
    try {
      await app.query(sql, params);
      return "accepted";
    } catch (error) {
      return (error as { code?: string }).code ?? "error";
    } finally {
      await app.query("ROLLBACK TO SAVEPOINT attempt");
    }
  };

  it("cannot destroy or replace a patient's data key except by an erasure in the log or a re-wrap that keeps the old wrapping", async () => {
    const subject = `hardening-${Math.random().toString(36).slice(2, 10)}`;
    // In a transaction rolled back at the end: nothing is left on the shared database.
    await app.query("BEGIN");
    try {
      // A new patient's key: the app inserts it, as its first event's append does.
      await app.query("INSERT INTO phi_keys (subject_id, wrapped_key, master_key_id) VALUES ($1, 'd3JhcHBlZA==', 'k1')", [subject]);
      // The finding's crypto-shred, with no PatientErased in the log, and its variants.
      expect(await codeOf("UPDATE phi_keys SET wrapped_key = NULL, master_key_id = NULL, erased_at = now() WHERE subject_id = $1", [subject])).toBe("42501");
      expect(await codeOf("UPDATE phi_keys SET wrapped_key = 'garbage' WHERE subject_id = $1", [subject])).toBe("42501");
      expect(await codeOf("DELETE FROM phi_keys WHERE subject_id = $1", [subject])).toBe("42501");
      expect(await codeOf("INSERT INTO phi_keys (subject_id, wrapped_key, master_key_id) VALUES ($1, 'x', 'k') ON CONFLICT (subject_id) DO UPDATE SET wrapped_key = NULL", [subject])).toBe("42501");
      expect(await codeOf("SELECT 1 FROM phi_keys WHERE subject_id = $1 FOR UPDATE", [subject])).toBe("42501");
      // A key stored erased from the start (a patient not written yet, or from before keys).
      expect(await codeOf("INSERT INTO phi_keys (subject_id, wrapped_key, master_key_id, erased_at) VALUES ($1, NULL, NULL, now())", [`${subject}-new`])).toBe("ES004");
      // The erasure function, without the erasure's event in the subject's stream.
      expect(await codeOf("SELECT phi_key_erase($1)", [subject])).toBe("ES004");
      // A re-wrap to nothing; and the kept wrappings are not the app's to read or remove.
      expect(await codeOf("SELECT phi_keys_rewrap(ARRAY[$1], ARRAY[NULL::text], 'k2')", [subject])).toBe("ES004");
      expect(await codeOf("SELECT phi_keys_rewrap(ARRAY[$1], ARRAY[''], 'k2')", [subject])).toBe("ES004");
      expect(await codeOf("SELECT phi_keys_rewrap(ARRAY[$1], ARRAY['d3JhcHBlZA=='], NULL)", [subject])).toBe("ES004");
      expect(await codeOf("SELECT * FROM phi_key_history")).toBe("42501");
      expect(await codeOf("DELETE FROM phi_key_history")).toBe("42501");
      // A re-wrap of garbage is taken (the database cannot tell), but the wrapping it replaced is kept.
      expect((await app.query("SELECT phi_keys_rewrap(ARRAY[$1], ARRAY['Z2FyYmFnZQ=='], 'k2') AS n", [subject])).rows[0]).toEqual({ n: 1 });
      const [row] = (await app.query("SELECT wrapped_key, master_key_id, erased_at FROM phi_keys WHERE subject_id = $1", [subject])).rows;
      expect(row).toEqual({ wrapped_key: "Z2FyYmFnZQ==", master_key_id: "k2", erased_at: null });
    } finally {
      await app.query("ROLLBACK");
    }
  });

  it("cannot relabel a data key's wrapping with another master key's id: a re-wrap must re-wrap, and every label it replaces is kept", async () => {
    // The finding: phi_keys_rewrap took the stored wrapping back with only master_key_id changed,
    // and the history kept nothing (the wrapping did not change). Relabelled with the next master
    // key's id before a rotation, a patient's key was skipped by it, the old master key dropped,
    // and the data key lost for good; relabelled with a made-up id, every start-up failed.
    const subject = `relabel-${Math.random().toString(36).slice(2, 10)}`;
    const other = `${subject}-b`;
    const stored = async (s: string) => (await app.query("SELECT wrapped_key, master_key_id FROM phi_keys WHERE subject_id = $1", [s])).rows[0];
    await app.query("BEGIN");
    try {
      await app.query("INSERT INTO phi_keys (subject_id, wrapped_key, master_key_id) VALUES ($1, 'b2xkLXdyYXBwaW5n', 'k1'), ($2, 'b3RoZXItd3JhcHBpbmc=', 'k1')", [subject, other]);
      // The same wrapping under the next master key's id, or under one nobody has: refused, alone
      // or in a batch with a genuine re-wrap, and nothing is changed.
      expect(await codeOf("SELECT phi_keys_rewrap(ARRAY[$1], ARRAY['b2xkLXdyYXBwaW5n'], 'k2')", [subject])).toBe("ES004");
      expect(await codeOf("SELECT phi_keys_rewrap(ARRAY[$1], ARRAY['b2xkLXdyYXBwaW5n'], 'made-up')", [subject])).toBe("ES004");
      expect(await codeOf("SELECT phi_keys_rewrap(ARRAY[$1, $2], ARRAY['bmV3LXdyYXBwaW5n', 'b2xkLXdyYXBwaW5n'], 'k2')", [other, subject])).toBe("ES004");
      expect(await stored(subject)).toEqual({ wrapped_key: "b2xkLXdyYXBwaW5n", master_key_id: "k1" });
      expect(await stored(other)).toEqual({ wrapped_key: "b3RoZXItd3JhcHBpbmc=", master_key_id: "k1" });
      // Nor in two steps: away to another wrapping, then back to the old one under the new id.
      expect((await app.query("SELECT phi_keys_rewrap(ARRAY[$1], ARRAY['Z2FyYmFnZQ=='], 'k2') AS n", [subject])).rows[0]).toEqual({ n: 1 });
      expect(await codeOf("SELECT phi_keys_rewrap(ARRAY[$1], ARRAY['b2xkLXdyYXBwaW5n'], 'k2')", [subject])).toBe("ES004");
      // A genuine re-wrap (a new wrapping) is taken.
      expect((await app.query("SELECT phi_keys_rewrap(ARRAY[$1], ARRAY['bmV3LXdyYXBwaW5n'], 'k2') AS n", [other])).rows[0]).toEqual({ n: 1 });
      expect(await stored(other)).toEqual({ wrapped_key: "bmV3LXdyYXBwaW5n", master_key_id: "k2" });
    } finally {
      await app.query("ROLLBACK");
    }
    // A relabel by hand (the owner's UPDATE, which no function stands between) keeps the old pair.
    const owner = new pg.Client({ connectionString: pgOwnerUrl! });
    await owner.connect();
    await owner.query("BEGIN");
    try {
      await owner.query("INSERT INTO phi_keys (subject_id, wrapped_key, master_key_id) VALUES ($1, 'b2xkLXdyYXBwaW5n', 'k1')", [subject]);
      await owner.query("UPDATE phi_keys SET master_key_id = 'k2' WHERE subject_id = $1", [subject]);
      const kept = await owner.query("SELECT wrapped_key, master_key_id FROM phi_key_history WHERE subject_id = $1 ORDER BY id", [subject]);
      expect(kept.rows).toEqual([{ wrapped_key: "b2xkLXdyYXBwaW5n", master_key_id: "k1" }]);
    } finally {
      await owner.query("ROLLBACK");
      await owner.end();
    }
  });

  it("cannot grant itself what it lacks", async () => {
    // A non-owner's GRANT only warns ("no privileges were granted"); the UPDATE stays refused.
    await app.query("GRANT UPDATE, DELETE ON events TO PUBLIC").catch(() => {});
    expect(await refusal("UPDATE events SET data = '{}'::jsonb")).toBe("42501");
  });

  it("through a decision's stamp, only raises a stream's last_xid to its own transaction id: never lowers it, never moves a version or the chain", async () => {
    const db = await import("../db/client").then((m) => m.openDatabase({ url: pgUrl!, poolMax: 2 }));
    const streamId = newStreamId();
    try {
      await appendToStream(storeOf(db), streamId, [note(1), note(2)], { expectedVersion: "no_stream", aggregateType: "note" });
    } finally {
      await db.close();
    }
    const row = async () => (await app.query<{ version: number; last_xid: string; last_hash: string }>("SELECT version, last_xid::text, encode(last_hash, 'hex') AS last_hash FROM streams WHERE stream_id = $1", [streamId])).rows[0]!;
    const before = await row();
    // A stamp in a transaction that then rolls back leaves nothing.
    await app.query("BEGIN");
    await app.query("SELECT * FROM stream_versions_decided_on($1::text[])", [[streamId]]);
    await app.query("ROLLBACK");
    expect(await row()).toEqual(before);
    // A committed stamp: last_xid is the stamping transaction's, nothing else moved.
    await app.query("BEGIN");
    const [{ xid }] = (await app.query<{ xid: string }>("SELECT pg_current_xact_id()::text AS xid")).rows as [{ xid: string }];
    const { rows: answered } = await app.query<{ stream_id: string; version: number }>("SELECT * FROM stream_versions_decided_on($1::text[])", [[streamId, "note-no-such-stream"]]);
    await app.query("COMMIT");
    expect(answered).toEqual([{ stream_id: streamId, version: 2 }]);
    const stamped = await row();
    expect(stamped).toEqual({ ...before, last_xid: xid });
    expect(BigInt(stamped.last_xid)).toBeGreaterThan(BigInt(before.last_xid));
    // An older transaction's stamp, committed after, does not lower it.
    const older = new pg.Client({ connectionString: pgUrl! });
    await older.connect();
    try {
      await older.query("BEGIN");
      await older.query("SELECT pg_current_xact_id()");
      await app.query("SELECT * FROM stream_versions_decided_on($1::text[])", [[streamId]]);
      const newest = await row();
      await older.query("SELECT * FROM stream_versions_decided_on($1::text[])", [[streamId]]);
      await older.query("COMMIT");
      expect(await row()).toEqual(newest);
    } finally {
      await older.end();
    }
    // And the app's role has no other way to the row.
    expect(await refusal(`UPDATE streams SET last_xid = '1' WHERE stream_id = '${streamId}'`)).toBe("42501");
  });

  it("still appends, reads and keeps the trigger in place after every attack", async () => {
    const db = await import("../db/client").then((m) => m.openDatabase({ url: pgUrl!, poolMax: 2 }));
    try {
      const store = storeOf(db);
      const streamId = newStreamId();
      await appendToStream(store, streamId, [note(1), note(2)], { expectedVersion: "no_stream", aggregateType: "note" });
      expect((await readStream(store, streamId)).map((e) => e.version)).toEqual([1, 2]);
    } finally {
      await db.close();
    }
    const { rows } = await app.query<{ tgenabled: string }>(
      "SELECT tgenabled FROM pg_trigger WHERE tgname IN ('events_no_update_delete', 'events_no_truncate', 'access_log_no_update_delete')",
    );
    expect(rows.map((r) => r.tgenabled)).toEqual(["O", "O", "O"]);
  });
});

describeEachDatabase("a repeated batch answers the stored result", (db) => {
  const modes = (version: number): ExpectedVersion[] => ["any", "stream_exists", version, version - 2];

  it("in every expected-version mode, the current version included", async () => {
    const store = storeOf(db());
    const streamId = newStreamId();
    await appendToStream(store, streamId, [note(0)], { expectedVersion: "no_stream", aggregateType: "note" });
    const batch = [note(1), note(2)];
    const first = await appendToStream(store, streamId, batch, { expectedVersion: 1, aggregateType: "note" });
    expect(first.repeated).toBe(false);
    // "3" is the version the stream is at now: a repeat carrying it must not pass as new.
    for (const expectedVersion of [...modes(3), "no_stream" as const]) {
      const again = await appendToStream(store, streamId, batch, { expectedVersion, aggregateType: "note" });
      expect(again).toEqual({ ...first, repeated: true });
    }
    expect((await readStream(store, streamId)).length).toBe(3);
  });
});

describePostgres("repeats racing their first run", (db) => {
  it("20 concurrent copies of one batch with 'any' on a new stream: one write, every answer the same", async () => {
    const store = storeOf(db());
    const streamId = newStreamId();
    const batch = [note(1), note(2), note(3)];
    const results = await Promise.all(
      Array.from({ length: 20 }, () => appendToStream(store, streamId, batch, { expectedVersion: "any", aggregateType: "note" })),
    );
    expect(results.filter((r) => !r.repeated)).toHaveLength(1);
    const positions = results.map((r) => r.events.map((e) => e.globalPosition).join(","));
    expect(new Set(positions).size).toBe(1);
    expect((await readStream(store, streamId)).map((e) => e.version)).toEqual([1, 2, 3]);
  });

  it.each<ExpectedVersion>(["no_stream", "any", 0])("20 concurrent copies with %s on a new stream", async (expectedVersion) => {
    const store = storeOf(db());
    const streamId = newStreamId();
    const batch = [note(1)];
    const results = await Promise.all(
      Array.from({ length: 20 }, () => appendToStream(store, streamId, batch, { expectedVersion, aggregateType: "note" })),
    );
    expect(results.filter((r) => !r.repeated)).toHaveLength(1);
    expect((await readStream(store, streamId)).length).toBe(1);
  });

  it("concurrent copies at an existing stream's version, mixed with copies at 'any'", async () => {
    const store = storeOf(db());
    const streamId = newStreamId();
    await appendToStream(store, streamId, [note(0)], { expectedVersion: "no_stream", aggregateType: "note" });
    const batch = [note(1), note(2)];
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        appendToStream(store, streamId, batch, { expectedVersion: i % 2 ? 1 : "any", aggregateType: "note" }),
      ),
    );
    expect(results.filter((r) => !r.repeated)).toHaveLength(1);
    expect((await readStream(store, streamId)).map((e) => e.version)).toEqual([1, 2, 3]);
  });

  it("a conflicting expected version on a new stream leaves no empty stream behind", async () => {
    const store = storeOf(db());
    const streamId = newStreamId();
    await expect(appendToStream(store, streamId, [note(1)], { expectedVersion: "stream_exists", aggregateType: "note" })).rejects.toThrow(
      /expected version stream_exists, actual version 0/,
    );
    const rows = await db().sql<{ n: bigint }>("SELECT count(*) AS n FROM streams WHERE stream_id = $1", [streamId]);
    expect(Number(rows[0]!.n)).toBe(0);
  });
});

/** Reads the global log from `after` until `done` holds, polling (the server is shared). */
async function readUntil(
  store: ReturnType<typeof storeOf>,
  after: LogCheckpoint | null,
  done: (seen: StoredEvent[]) => boolean,
  timeoutMs = 30_000,
) {
  const seen: StoredEvent[] = [];
  let checkpoint = after;
  const deadline = Date.now() + timeoutMs;
  while (!done(seen) && Date.now() < deadline) {
    const page = await readAll(store, { after: checkpoint, limit: 1000 });
    seen.push(...page.events);
    checkpoint = page.checkpoint;
    if (page.events.length < 1000) await sleep(20);
  }
  return { seen, checkpoint };
}

async function head(store: ReturnType<typeof storeOf>): Promise<LogCheckpoint | null> {
  let checkpoint: LogCheckpoint | null = null;
  for (;;) {
    const page = await readAll(store, { after: checkpoint, limit: 10_000 });
    checkpoint = page.checkpoint;
    if (page.events.length < 10_000) return checkpoint;
  }
}

describePostgres("every stream reaches the global log in version order", (db) => {
  it("randomized multi-append transactions on shared streams, 'any' and retried", { timeout: 240_000 }, async () => {
    const store = storeOf(db());
    const start = await head(store);
    const streams = Array.from({ length: 4 }, () => newStreamId("note-order"));
    let written = 0;
    let refusedAsOlder = 0;
    const rand = (n: number) => Math.floor(Math.random() * n);
    const worker = async () => {
      for (let t = 0; t < 8; t++) {
        const plan = Array.from({ length: 1 + rand(3) }, () => streams[rand(streams.length)]!);
        for (let attempt = 0; ; attempt++) {
          try {
            await db().prisma.$transaction(
              async (tx) => {
                const txStore = storeIn(store, tx);
                // Take a transaction id early, as a transaction that wrote something else first would.
                await tx.$queryRawUnsafe("SELECT pg_current_xact_id()::text");
                for (const streamId of plan) {
                  await sleep(rand(4));
                  await appendToStream(txStore, streamId, [note(t)], { expectedVersion: "any", aggregateType: "note" });
                }
              },
              { timeout: 20_000, maxWait: 20_000 },
            );
            written += plan.length;
            break;
          } catch (error) {
            if (!isRetryableTransactionError(error) || attempt > 50) throw error;
            refusedAsOlder++;
          }
        }
      }
    };
    await Promise.all(Array.from({ length: 6 }, worker));
    const ours = (seen: StoredEvent[]) => seen.filter((e) => streams.includes(e.streamId));
    const { seen } = await readUntil(store, start, (s) => ours(s).length >= written);
    const read = ours(seen);
    expect(read).toHaveLength(written);
    for (const streamId of streams) {
      const versions = read.filter((e) => e.streamId === streamId).map((e) => e.version);
      expect(versions).toEqual(versions.map((_, i) => i + 1));
    }
    // The refusal is what keeps the order; under this much contention it must have happened.
    expect(refusedAsOlder).toBeGreaterThan(0);
  });
});

describePostgres("readers wait only for transactions that can write this database", (db) => {
  it("a long transaction in another database does not hold readers back; one in this database does, and says so", async () => {
    const store = storeOf(db());
    const start = await head(store);
    const elsewhere = new pg.Client({ connectionString: Object.assign(new URL(pgOwnerUrl!), { pathname: "/postgres" }).toString() });
    const here = new pg.Client({ connectionString: pgUrl! });
    await Promise.all([elsewhere.connect(), here.connect()]);
    try {
      // A report or backup in a neighbouring database, holding a transaction id.
      await elsewhere.query("BEGIN");
      await elsewhere.query("SELECT pg_current_xact_id()");
      const a = newStreamId();
      await appendToStream(store, a, [note(1)], { expectedVersion: "no_stream", aggregateType: "note" });
      const first = await readUntil(store, start, (s) => s.some((e) => e.streamId === a), 10_000);
      expect(first.seen.some((e) => e.streamId === a)).toBe(true);

      // A session of this database left idle in a transaction that holds an id.
      await here.query("BEGIN");
      await here.query("SELECT pg_current_xact_id()");
      const b = newStreamId();
      await appendToStream(store, b, [note(2)], { expectedVersion: "no_stream", aggregateType: "note" });
      const held = await readUntil(store, first.checkpoint, (s) => s.some((e) => e.streamId === b), 1_500);
      expect(held.seen.some((e) => e.streamId === b)).toBe(false);
      const lag = await logReaderLag(store);
      expect(lag.heldBackBy).not.toBeNull();
      expect(lag.eventsWaiting).toBeGreaterThanOrEqual(1);

      await here.query("COMMIT");
      const after = await readUntil(store, first.checkpoint, (s) => s.some((e) => e.streamId === b), 20_000);
      expect(after.seen.some((e) => e.streamId === b)).toBe(true);
    } finally {
      await elsewhere.query("ROLLBACK").catch(() => {});
      await here.query("ROLLBACK").catch(() => {});
      await Promise.all([elsewhere.end(), here.end()]);
    }
  });

  it("refuses a forged checkpoint instead of passing it to SQL", async () => {
    const store = storeOf(db());
    await expect(readAll(store, { after: { transactionId: "1; DROP TABLE events", globalPosition: 0 } })).rejects.toThrow(/checkpoint/);
    await expect(readAll(store, { after: { transactionId: "1", globalPosition: -5 } })).rejects.toThrow(/checkpoint/);
  });
});

describe("the test run's database URLs", () => {
  it("name the app's role and the owner as two different users, or are both absent", () => {
    expect(pgUrl === null).toBe(pgOwnerUrl === null);
    if (pgUrl) expect(new URL(pgUrl).username).not.toBe(new URL(pgOwnerUrl!).username);
  });
});
