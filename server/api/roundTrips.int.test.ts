// What a command costs in statements, counted at the driver: each is a round trip to the database
// and a turn of the app's event loop, which is most of a command's latency. A statement more on
// these paths is a decision, not an accident.
import { randomUUID } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "../db/client";
import { callerFor, newPatient } from "../testing/caller";
import { openFreshPostgresDatabase, pgUrl } from "../testing/db";

/** The statements `fn` sends through `pg`, by their first words. */
async function statementsOf(fn: () => Promise<unknown>): Promise<string[]> {
  const seen: string[] = [];
  const original = pg.Client.prototype.query;
  pg.Client.prototype.query = function query(this: pg.Client, config: unknown, ...rest: unknown[]) {
    const text = typeof config === "string" ? config : ((config as { text?: string } | null)?.text ?? "");
    seen.push(text.replace(/\s+/g, " ").trim().slice(0, 40));
    return (original as (...args: unknown[]) => unknown).call(this, config, ...rest);
  } as typeof original;
  try {
    await fn();
  } finally {
    pg.Client.prototype.query = original;
  }
  return seen;
}

describe.skipIf(!pgUrl)("statements per command [postgresql]", () => {
  let db: Database;
  let drop: () => Promise<void>;
  beforeAll(async () => {
    ({ db, drop } = await openFreshPostgresDatabase(4));
    // Warm: the first registration of a process reads settings and keys once.
    await callerFor(db, ["clinician"]).patient.register(newPatient());
  }, 60_000);
  afterAll(async () => drop?.());

  it("a registration with the client's command id: no read of its new stream or of the id, one read of the new patient's key", async () => {
    const api = callerFor(db, ["clinician"]);
    const statements = await statementsOf(() => api.patient.register({ ...newPatient(), commandId: randomUUID() }));
    // The stream is new (startsStream): neither loaded nor its command id probed before the
    // append. The new data key is read once (the fingerprint's and the append's, kept for the
    // transaction) and written once. The duplicate check takes no table lock of its own: the row
    // is written before the table is read.
    expect(statements).toEqual([
      "BEGIN",
      "SELECT subject_id, wrapped_key, master_k",
      "INSERT INTO phi_keys (subject_id, wrappe",
      "SELECT * FROM append_to_stream($1, $2, $",
      "SELECT count(locked)::int AS locks FROM ",
      'INSERT INTO "public"."rm_patients" ("pat',
      "SELECT * FROM ( SELECT patient_id::text,",
      "COMMIT",
    ]);
  });

  it("the same registration sent again finds its events stored, then reads the stream and the id and answers the stored result", async () => {
    const api = callerFor(db, ["clinician"]);
    const input = { ...newPatient(), commandId: randomUUID() };
    const first = await api.patient.register(input);
    let again: unknown;
    const statements = await statementsOf(async () => {
      again = await api.patient.register(input);
    });
    expect(again).toEqual({ ...first, repeated: true });
    expect(statements).toEqual([
      "BEGIN",
      "SELECT subject_id, wrapped_key, master_k",
      "SELECT * FROM append_to_stream($1, $2, $",
      "COMMIT",
      "WITH snap AS ( SELECT version, data FROM",
      "SELECT e0.stream_id, e0.metadata->>'comm",
    ]);
  });
});
