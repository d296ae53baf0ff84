// The duplicate check before a registration reads only the patients born that day under one of
// the names typed, not everyone who shares the birthday: on a database of its own, 20,000
// listed patients born on one placeholder date, the check's plan must narrow by date and folded
// family name in rm_patients_duplicate_idx and read no more than the candidates.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import type { Database } from "../db/client";
import { openFreshPostgresDatabase, pgUrl } from "../testing/db";
import { callerAs, newPatient } from "../testing/caller";
import { duplicateQuery, possibleDuplicates } from "./duplicates";

const crowd = 20_000;
const day = "1900-01-01";

type Plan = { "Node Type": string; "Index Name"?: string; "Index Cond"?: string; "Actual Rows"?: number; "Actual Loops"?: number; Plans?: Plan[] };
const nodes = (plan: Plan): Plan[] => [plan, ...(plan.Plans ?? []).flatMap(nodes)];

describe.skipIf(!pgUrl)("the duplicate check on a crowded birthday [postgresql]", () => {
  let db: Database;
  let drop: () => Promise<void>;
  let owner: pg.Client;
  let ownerUrl: string;

  beforeAll(async () => {
    ({ db, drop, ownerUrl } = await openFreshPostgresDatabase(2));
    owner = new pg.Client({ connectionString: ownerUrl });
    await owner.connect();
    const row = (given: string, family: string, i: number | string) =>
      `gen_random_uuid(), 'DUP' || ${i}, ${given}, ${family}, date '${day}', 'unknown', lower(${family} || ' ' || ${given}), 1, now(), now()`;
    await owner.query(
      `INSERT INTO rm_patients (patient_id, mrn, given_name, family_name, date_of_birth, sex, sort_key, version, registered_at, updated_at)
       SELECT ${row("'Given' || i", "'Crowd' || i", "i")} FROM generate_series(1, ${crowd}) AS i`,
    );
    await owner.query(
      `INSERT INTO rm_patients (patient_id, mrn, given_name, family_name, date_of_birth, sex, sort_key, version, registered_at, updated_at)
       VALUES (${row("'Zoë'", "'Núñez'", "'-a'")}), (${row("''", "'Doe'", "'-b'")})`,
    );
  }, 120_000);

  afterAll(async () => {
    await owner?.end();
    await drop?.();
  });

  const people = [
    { what: "the names as first typed", person: { givenName: "zoe", familyName: "NUNEZ", dateOfBirth: day }, found: ["Núñez"] },
    { what: "the names either way round", person: { givenName: "Nunez", familyName: "Zoe", dateOfBirth: day }, found: ["Núñez"] },
    { what: "no given name on either side", person: { givenName: "", familyName: "doe", dateOfBirth: day }, found: ["Doe"] },
    { what: "someone new", person: { givenName: "Ada", familyName: "Lovelace", dateOfBirth: day }, found: [] },
  ];

  const check = async ({ person, found }: (typeof people)[number]) => {
    expect((await possibleDuplicates(db.prisma, person)).map((c) => c.familyName)).toEqual(found);
    const { text, params } = duplicateQuery(person);
    const { rows } = await owner.query(`EXPLAIN (ANALYZE, FORMAT JSON) ${text}`, params);
    const plan = nodes((rows[0] as { "QUERY PLAN": [{ Plan: Plan }] })["QUERY PLAN"][0].Plan);
    const scans = plan.filter((n) => n["Index Name"] === "rm_patients_duplicate_idx");
    expect(scans.length, JSON.stringify(plan.map((n) => n["Node Type"]))).toBeGreaterThan(0);
    // The folded family name narrows the scan (EXPLAIN shows emr_fold(family_name)).
    for (const scan of scans) expect(scan["Index Cond"]).toMatch(/\(family_name\b/);
    expect(plan.some((n) => n["Node Type"] === "Seq Scan")).toBe(false);
    // Read from the index: the candidates, not the 20,000 born that day.
    const read = scans.reduce((n, s) => n + (s["Actual Rows"] ?? 0) * (s["Actual Loops"] ?? 1), 0);
    expect(read).toBeLessThanOrEqual(2);
  };

  // First as a new hospital's table is between autovacuum's visits: no statistics yet.
  for (const person of people) it(`finds the candidates for ${person.what}, reading only them, before the table has statistics`, () => check(person));
  it("does the same once the table is analyzed", async () => {
    await owner.query("ANALYZE rm_patients");
    for (const person of people) await check(person);
  });

  it("waits for a rebuild's swap instead of deadlocking with it", async () => {
    // The swap's two locks, as server/projections/rebuild.ts takes them: writers held back, then
    // the rename's ACCESS EXCLUSIVE. A registration that read the table before its write (the
    // duplicate check) held ACCESS SHARE across that and deadlocked with the second.
    const swap = new pg.Client({ connectionString: ownerUrl });
    await swap.connect();
    try {
      await swap.query("BEGIN");
      await swap.query("LOCK TABLE rm_patients IN EXCLUSIVE MODE");
      const api = await callerAs(db, { id: "clinician-swap", email: "swap@example.test", name: "Sam Swap", roles: ["clinician"] });
      const registering = api.patient.register(newPatient());
      let settled = false;
      void registering.then(() => (settled = true), () => (settled = true));
      // The registration is waiting for the writers' lock (its events are appended, not committed).
      const waiting = async () =>
        (await owner.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_locks l JOIN pg_class c ON c.oid = l.relation WHERE c.relname = 'rm_patients' AND NOT l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())")).rows[0]!.n;
      await expect.poll(waiting).toBe(1);
      expect(settled).toBe(false);
      // The rename's lock is granted at once: nothing of the registration holds the table.
      await swap.query("SET LOCAL lock_timeout = '3s'");
      await swap.query("LOCK TABLE rm_patients IN ACCESS EXCLUSIVE MODE");
      await swap.query("COMMIT");
      await expect(registering).resolves.toMatchObject({ version: 1, repeated: false });
    } finally {
      await swap.query("ROLLBACK").catch(() => undefined);
      await swap.end();
    }
  });
});
