// The harness must never rot: run it end to end in --smoke (a few iterations of every workload
// that exists, no app server) against the test run's PostgreSQL server, and check the shape and
// the sanity of what it writes.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import type { Report } from "./lib/report";

// The bench makes and drops databases of its own: it runs as the owner, not the app's role.
const pgUrl = inject("pgOwnerUrl");
if (!pgUrl) console.warn("[skipped] bench smoke test: DATABASE_URL is not set, so there is no PostgreSQL server to bench against");

describe.skipIf(!pgUrl)("npm run bench -- --smoke", () => {
  // Made in beforeAll, not while collecting: a skipped suite runs no hooks, so a folder made at
  // collection would be left behind.
  let dir = "";
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "emr-bench-"));
  });
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("runs every available workload and writes well-formed rows", { timeout: 180_000 }, async () => {
    const out = join(dir, "smoke.json");
    const run = spawnSync(process.execPath, ["--import", "tsx", "bench/run.ts", "--smoke", `--out=${out}`], {
      env: { ...process.env, DATABASE_URL: pgUrl! },
      encoding: "utf8",
      timeout: 175_000,
    });
    expect(run.status, `bench exited ${run.status}:\n${run.stderr}\n${run.stdout}`).toBe(0);
    expect(run.stdout).toContain("| workload | metric | ours | raw | peer | ours/raw | ours/peer | target | met |");
    // A progress line per step when stderr is not a terminal.
    expect(run.stderr).toMatch(/\[\s*\d+ s\] 1 append latency · ours · round 1\/1/);

    const report = JSON.parse(readFileSync(out, "utf8")) as Report;
    expect(report.mode).toBe("smoke");
    expect(report.commit).toMatch(/^([0-9a-f]{40}|uncommitted)$/);
    expect(Date.parse(report.date)).not.toBeNaN();
    expect(report.machine.cores).toBeGreaterThan(0);
    expect(report.machine.postgres).toMatch(/^\d+/);

    const workloads = new Set(report.rows.map((r) => r.workload.split(".")[0]));
    expect([...workloads].sort()).toEqual(["1", "2", "3", "4", "5", "6", "7", "8", "10", "11", "12", "13"].sort());
    for (const row of report.rows) {
      expect(Object.keys(row)).toEqual(
        expect.arrayContaining(["workload", "metric", "unit", "ours", "raw", "peer", "oursToRaw", "oursToPeer", "target", "better", "met"]),
      );
      expect(["lower", "higher"]).toContain(row.better);
      for (const value of [row.ours, row.raw, row.peer]) {
        expect(value === null || (Number.isFinite(value) && value >= 0), `${row.workload} ${row.metric}: ${value}`).toBe(true);
      }
      expect(row.ours).toBeGreaterThan(0);
      if (row.raw !== null) expect(row.raw).toBeGreaterThan(0);
      // The ratio is of the unrounded figures, the columns three significant digits each: within
      // 1% of the quotient of the rounded ones, and 0.05 (a loaded machine's p95 can run 15× raw).
      if (row.raw !== null && row.ours !== null) {
        expect(Math.abs(row.oursToRaw! - row.ours / row.raw), `${row.workload} ${row.metric}`).toBeLessThanOrEqual(0.05 + 0.01 * (row.ours / row.raw));
      }
      expect(row.met === null ? row.target === null : typeof row.met === "boolean").toBe(true);
      if (row.unit === "ms") expect(row.ours).toBeLessThan(10_000);
    }
    // Replay reports the bench process's memory beside its rate.
    expect(report.rows.some((r) => r.workload.startsWith("5.") && r.metric === "bench process peak RSS during a replay" && r.unit === "MB")).toBe(true);
    // The scale rows measure at two log sizes, with the process's memory for replay and export at each.
    for (const metric of ["events/s", "bench process peak RSS during the replay", "latency p95", "bench process peak RSS during the export"]) {
      expect(report.rows.filter((r) => r.workload.startsWith("12.") && r.metric === metric)).toHaveLength(2);
    }
    expect(report.rows.some((r) => r.workload.startsWith("13.") && r.metric === "latency p50" && r.raw !== null)).toBe(true);
    // The rows that cannot run in a smoke run (over HTTP needs a build and a server) say why.
    const missing = report.unavailable.map((u) => u.workload).join("\n");
    expect(missing).toContain("9.");
    expect(report.unavailable.every((u) => u.reason.length > 0 && !u.reason.startsWith("FAILED"))).toBe(true);

    // And the run's databases are gone.
    const admin = new pg.Client({ connectionString: pgUrl! });
    await admin.connect();
    try {
      const left = await admin.query("SELECT datname FROM pg_database WHERE datname = ANY ($1::text[])", [report.databases]);
      expect(left.rows).toEqual([]);
    } finally {
      await admin.end();
    }
  });
});
