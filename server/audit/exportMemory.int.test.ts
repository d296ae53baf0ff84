// An extract of 1,000,000 events streams in bounded memory: the consuming process's peak heap
// and RSS stay far below what the rows would take held at once (hundreds of MB of text). In a
// database of its own, the rows laid down in bulk SQL as the owner.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "../db/client";
import { openFreshPostgresDatabase, pgUrl } from "../testing/db";

const ROWS = Number(process.env.EXPORT_MEMORY_ROWS ?? 1_000_000);
const MB = 1024 * 1024;
const HEAP_CAP_MB = 160;

describe.skipIf(!pgUrl)("an extract of a million events [postgresql, a database of its own]", () => {
  let fresh: { db: Database; ownerUrl: string; drop: () => Promise<void> } | undefined;
  let appUrl = "";

  beforeAll(async () => {
    fresh = await openFreshPostgresDatabase(2);
    const url = new URL(pgUrl!);
    url.pathname = new URL(fresh.ownerUrl).pathname;
    appUrl = url.toString();
    const owner = new pg.Client({ connectionString: fresh.ownerUrl });
    await owner.connect();
    try {
      // 1,000 patients' streams of 1,000 events each: a registration, then demographic changes.
      await owner.query(
        `INSERT INTO events (event_id, stream_id, aggregate_type, event_type, version, event_version, data, occurred_at, user_id, correlation_id, causation_id)
         SELECT gen_random_uuid(), 'patient-' || p.id, 'patient',
                CASE WHEN v = 1 THEN 'PatientRegistered' ELSE 'PatientDemographicsUpdated' END, v, 1,
                CASE WHEN v = 1
                  THEN jsonb_build_object('patientId', p.id, 'mrn', 'M' || lpad(p.n::text, 7, '0'), 'givenName', 'Given', 'familyName', 'Family' || p.n,
                         'dateOfBirth', '1950-01-01', 'sex', 'female', 'email', null, 'phone', null, 'address', null)
                  ELSE jsonb_build_object('patientId', p.id, 'changes', jsonb_build_object('phone', '+1 555 ' || lpad((v % 10000)::text, 4, '0')),
                         'previous', jsonb_build_object('phone', null), 'reason', 'bulk history for the export test')
                END,
                timestamptz '2024-01-01' + (p.n * 1000 + v) * interval '1 second', 'user-bulk', 'bulk-' || p.n, NULL
           FROM (SELECT n, substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-4' || substr(h, 14, 3) || '-8' || substr(h, 18, 3) || '-' || substr(h, 21, 12) AS id
                   FROM (SELECT n, md5('patient' || n) AS h FROM generate_series(1, $1::int / 1000) n) g) p,
                generate_series(1, 1000) v`,
        [ROWS],
      );
      await owner.query("ANALYZE events");
    } finally {
      await owner.end();
    }
  }, 600_000);

  afterAll(async () => {
    await fresh?.drop();
  });

  it("streams 1,000,000 rows as CSV with the process's peak heap and RSS bounded", async () => {
    // The child's heap is capped well below the extract's size: holding the rows would crash it.
    const { stdout, stderr } = await promisify(execFile)("npx", ["tsx", "server/audit/exportMemory.fixture.ts", appUrl, "csv"], {
      maxBuffer: 200 * MB,
      timeout: 900_000,
      env: { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ""} --max-old-space-size=${HEAP_CAP_MB}` },
    });
    // Every row decodes: nothing is reported as a fault on the way.
    expect(stdout + stderr).not.toContain("[fault]");
    const result = JSON.parse(stdout.trim().split("\n").at(-1)!) as { lines: number; bytes: number; peakRss: number; peakHeap: number; baselineRss: number };
    console.log(`export of ${ROWS} rows: ${Math.round(result.bytes / MB)} MB written, peak RSS ${Math.round(result.peakRss / MB)} MB (from ${Math.round(result.baselineRss / MB)}), peak heap ${Math.round(result.peakHeap / MB)} MB`);
    // The header, every row, the seal record.
    expect(result.lines).toBeGreaterThanOrEqual(ROWS + 2);
    // Held at once the text alone would be result.bytes (about 450 MB for a million rows); the rows as objects several times that.
    expect(result.bytes).toBeGreaterThan(ROWS * 300);
    expect(result.peakHeap).toBeLessThan(HEAP_CAP_MB * MB);
    expect(result.peakRss - result.baselineRss).toBeLessThan(250 * MB);
  }, 900_000);
});
