// 11. Patient search as people type it (patient.list and audit.patients): 100,000 patients in
// rm_patients (smoke: 2,000), laid down with generate_series: names from lists with accents,
// multi-word family names, MRNs. Each query is a page of 25 through listPatients (the procedures'
// query: trigram conditions on the folded search_text, keyset order). raw: the same SQL through
// pg, without Prisma. Emmett has no such query.
import pg from "pg";
import { listPatients, patientSearchSql } from "../../server/projections/queries";
import { percentile, timed } from "../lib/stats";
import type { Figure, Workload } from "../lib/types";

const families = ["Delgado", "Núñez", "Smith", "O'Brien", "García Márquez", "Okonkwo", "Lindqvist", "Watanabe", "Reyes", "Müller", "Dubois", "Kowalski", "Nguyen", "Haddad", "Silva", "Jensen"];
const givens = ["Rosa", "José Ángel", "Olivia", "Liam", "Aiko", "Maya", "Jonas", "Daniel", "Zoë", "Amir", "Chloé", "Noor", "Ifeoma", "Mateo", "Ines", "Sven"];

function fixtureSql(total: number): string {
  const pick = (list: string[], expr: string) => `(ARRAY[${list.map((n) => `'${n.replace(/'/g, "''")}'`).join(", ")}])[1 + (${expr}) % ${list.length}]`;
  // "Delgado Probe8680": a multi-word family name, as the demo's and the issue's.
  const family = `${pick(families, "i")} || ' Probe' || (i % 9973)`;
  const given = pick(givens, "i / 16");
  return `
    INSERT INTO rm_patients (patient_id, mrn, given_name, family_name, date_of_birth, sex, active, sort_key, version, registered_at, updated_at)
    SELECT overlay(overlay(md5('patient' || i) placing '4' from 13) placing '8' from 17)::uuid,
           'MRN' || lpad(i::text, 7, '0'), ${given}, ${family}, date '1940-01-01' + (i % 25000), 'female', true,
           lower(${family} || ' ' || ${given}), 1, now(), now()
      FROM generate_series(1, ${total}) AS i`;
}

const searches = [
  "Rosa Delgado",
  "Delgado Probe8680, Rosa",
  "delg ros",
  "nunez jose",
  "NÚÑEZ",
  "Delgadp Probe868",
  "garcia marquez zoe",
  "MRN0012345",
  "d",
  "probe42 lindq",
];

export const patientSearch: Workload = {
  number: 11,
  id: "patient-search",
  title: "patient search as people type it: a page of 25",
  async run(ctx) {
    const total = ctx.mode === "smoke" ? 2_000 : 100_000;
    const passes = ctx.mode === "full" ? 30 : ctx.mode === "quick" ? 10 : 2;
    const pool = new pg.Pool({ connectionString: ctx.oursUrl, max: 2 });
    // The cleanup drops the database WITH (FORCE): a connection still closing then gets an
    // administrator's termination, which must not end the process (as in contenders/raw.ts).
    pool.on("error", () => {});
    try {
      ctx.progress.step(`11 patient search: ${total.toLocaleString("en-US")} patients`);
      await pool.query(fixtureSql(total));
      // The issue's own example, so "Delgado Probe8680, Rosa" finds someone.
      await pool.query(
        `INSERT INTO rm_patients (patient_id, mrn, given_name, family_name, date_of_birth, sex, active, sort_key, version, registered_at, updated_at)
         VALUES (gen_random_uuid(), 'MRNROSA01', 'Rosa', 'Delgado Probe8680', date '1950-02-01', 'female', true, 'delgado probe8680 rosa', 1, now(), now())`,
      );
      // VACUUM sets the visibility map that index-only scans need (autovacuum does it on a live table).
      await pool.query("VACUUM ANALYZE rm_patients");
      const samples = { ours: [] as number[], raw: [] as number[] };
      const bySearch = new Map<string, number[]>(searches.map((s) => [s, []]));
      // One pass unmeasured first: each connection's first statements load the catalog and
      // emr_fold, which a running server has long done (it cost the first search 180-370 ms).
      ctx.progress.step("11 patient search · warm-up pass");
      for (const search of searches) {
        const [sql, params] = patientSearchSql({ search, limit: 25 });
        await listPatients(ctx.oursDatabase.prisma, { search, limit: 25 });
        await pool.query(sql, params);
      }
      for (let pass = 0; pass < passes; pass++) {
        ctx.progress.step(`11 patient search · pass ${pass + 1}/${passes}`);
        for (const search of searches) {
          const [sql, params] = patientSearchSql({ search, limit: 25 });
          const runOurs = async () => {
            ctx.contenders.ours.enter();
            const ms = await timed(() => listPatients(ctx.oursDatabase.prisma, { search, limit: 25 }));
            samples.ours.push(ms);
            bySearch.get(search)!.push(ms);
          };
          const runRaw = async () => {
            ctx.contenders.raw.enter();
            samples.raw.push(await timed(() => pool.query(sql, params)));
          };
          if (pass % 2 === 0) await runOurs().then(runRaw);
          else await runRaw().then(runOurs);
        }
      }
      const workload = "11. patient search as people type it, page of 25";
      const note = `${total.toLocaleString("en-US")} patients laid down in bulk; ${searches.length} searches (${searches.map((s) => `"${s}"`).join(", ")}) × ${passes} passes after one unmeasured; ours = listPatients (patient.list's query through Prisma), raw = the same SQL through pg (the first pass's; a typo's second pass is ours only); Emmett has no such query; ours' p95 by search: ${[...bySearch].map(([s, ms]) => `"${s}" ${percentile(ms, 95).toFixed(1)} ms`).join(", ")}`;
      return [
        {
          workload,
          metric: "latency p95",
          unit: "ms",
          ours: percentile(samples.ours, 95),
          raw: percentile(samples.raw, 95),
          peer: null,
          target: total >= 100_000 ? "< 20 ms on 100,000 patients" : `< 20 ms (on ${total.toLocaleString("en-US")} patients; the full run uses 100,000)`,
          better: "lower",
          check: ({ ours }) => ours < 20,
          note,
        },
        { workload, metric: "latency p50", unit: "ms", ours: percentile(samples.ours, 50), raw: percentile(samples.raw, 50), peer: null, target: null, better: "lower" },
      ] satisfies Figure[];
    } finally {
      await pool.end();
    }
  },
};
