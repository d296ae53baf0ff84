// The charts' history: each process's per-minute totals, summed over processes (counters) or the
// largest sample (cluster-wide gauges), read back by bucket; rows outlive the process.
import { expect, it } from "vitest";

import { describeEachDatabase } from "../testing/db";
import { addToMinute, setInMinute, unwrittenMinutes } from "./minute";
import { flushRollups, metricsHistory, processId } from "./rollups";

describeEachDatabase("metric rollups", (db) => {
  it("sums counters over processes, takes the largest gauge, averages durations, per minute", async () => {
    const sql = db().sql;
    await sql("DELETE FROM metric_rollups", []);
    const now = Date.now();
    const minute = new Date(Math.floor(now / 60_000) * 60_000);
    addToMinute("events_appended", 3, now);
    addToMinute("events_appended", 2, now);
    addToMinute("load_seconds", 0.002, now);
    addToMinute("load_seconds", 0.004, now);
    setInMinute("store_events", 1_000, now);
    // What this process holds and has not written yet: when the suite's run on the other database
    // fell in the minute before, that minute is still unwritten here and this flush writes it too.
    const unwritten = unwrittenMinutes(now);
    expect(await flushRollups(db().prisma, now)).toBeGreaterThanOrEqual(3);
    // A second flush replaces this process's row, never adds to it.
    await flushRollups(db().prisma, now);
    // Another process (or this one before a restart) wrote the same minute.
    await sql(
      `INSERT INTO metric_rollups (minute, metric, process_id, value, samples) VALUES
         ($1, 'events_appended', 'other-host:1:abc', 4, 1),
         ($1, 'store_events', 'other-host:1:abc', 990, 1),
         ($1, 'load_seconds', 'other-host:1:abc', 0.006, 1)`,
      [minute],
    );
    const { points, bucketMinutes } = await metricsHistory(db().prisma, "hour", now);
    expect(bucketMinutes).toBe(1);
    expect(points).toHaveLength(60);
    const last = points.find((p) => p.t === minute.getTime());
    // This process's totals so far this minute (the suite runs twice in one process), plus the other's.
    const own = unwrittenMinutes(now).at(-1)!.cells;
    const ownLoads = own.get("load_seconds")!;
    expect(last?.appendsPerMinute).toBe(own.get("events_appended")!.value + 4);
    expect(last?.storeEvents).toBe(1_000);
    expect(last?.loadMs).toBeCloseTo(((ownLoads.value + 0.006) / (ownLoads.samples + 1)) * 1000, 6);
    // Minutes nothing wrote are gaps, not zeros.
    expect(points[0]?.appendsPerMinute).toBeNull();
    const rows = await sql<{ process_id: string }>("SELECT DISTINCT process_id FROM metric_rollups ORDER BY 1", []);
    expect(rows.map((r) => r.process_id).sort()).toEqual(["other-host:1:abc", processId].sort());

    const day = await metricsHistory(db().prisma, "day", now);
    expect(day.bucketMinutes).toBe(10);
    expect(day.points).toHaveLength(144);
    const bucket = day.points.find((p) => p.t <= now && now < p.t + 600_000);
    const ownInBucket = unwritten
      .filter((m) => bucket && bucket.t <= m.minute && m.minute < bucket.t + 600_000)
      .reduce((sum, m) => sum + (m.cells.get("events_appended")?.value ?? 0), 0);
    expect(bucket?.appendsPerMinute).toBeCloseTo((ownInBucket + 4) / 10, 6);
  });

  it("keeps writing when a sample's time is from a minute that has ended (a gauge query that waited across it)", async () => {
    const sql = db().sql;
    const metric = `test_late_${Math.random().toString(36).slice(2, 8)}`;
    const now = Date.now();
    // In turn now and a minute before, as a gauge sample stamped before a slow query and the
    // appends of the minute it ended in. Before, each turn reopened the other minute, so the
    // list of minutes to write held one twice and every flush failed (SQLSTATE 21000).
    for (const at of [now, now - 60_000, now, now - 60_000, now]) addToMinute(metric, 1, at);
    const minutes = unwrittenMinutes(now).map((m) => m.minute);
    expect(new Set(minutes).size).toBe(minutes.length);
    expect(minutes).toEqual([...minutes].sort((a, b) => a - b));
    await flushRollups(db().prisma, now);
    const [row] = await sql<{ total: number }>(
      "SELECT sum(value)::float8 AS total FROM metric_rollups WHERE metric = $1 AND process_id = $2",
      [metric, processId],
    );
    expect(row?.total).toBe(5);
  });
});
