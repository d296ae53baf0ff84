// 13. A load at an old version of a 100,000-event patient stream (--smoke: 2,000), in a database
// of its own: the stream laid down in bulk SQL (server/testing/longStream.ts, as
// temporalScale.int.test.ts does), the sparse historic snapshots written by
// writeHistoricSnapshots (every 500 versions, the compliance work's time travel), then
// loadAtVersion at versions spread over the stream.
// raw: the same two reads as minimal pg statements (the nearest snapshot at or below the version,
// then the events after it up to the version), rows as the driver returns them: no opening of
// the sealed snapshot, no decoding, no fold. Emmett has no snapshots in its PostgreSQL store.
import { randomUUID } from "node:crypto";
import { patientDecider } from "../../server/domain/patient/decider";
import { patientStream } from "../../server/domain/streams";
import { loadAtVersion } from "../../server/eventStore/aggregate";
import { defaultHistoricSnapshotEvery } from "../../server/eventStore/snapshots";
import { writeHistoricSnapshots } from "../../server/eventStore/temporal";
import { layLongPatientStream } from "../../server/testing/longStream";
import { installStockParsers } from "../lib/pgTypes";
import { openSideStore } from "../lib/sideStore";
import { percentile, timed } from "../lib/stats";
import type { Workload } from "../lib/types";

export const oldVersion: Workload = {
  number: 13,
  id: "old-version",
  title: "load at an old version of a long stream",
  async run(ctx) {
    const { streamEvents, loads } = ctx.sizes.oldVersion;
    const { store, pool, close } = await openSideStore(ctx.oursUrl, "oldversion", 2);
    try {
      const patientId = randomUUID();
      const streamId = patientStream(patientId);
      ctx.progress.step(`13 old version: laying down a ${streamEvents.toLocaleString("en-US")}-event stream`);
      await layLongPatientStream(pool, streamId, patientId, streamEvents);
      await pool.query("VACUUM (ANALYZE) events");
      ctx.progress.step("13 old version: writing the historic snapshots");
      const snapshots = await writeHistoricSnapshots(store, streamId, patientDecider, defaultHistoricSnapshotEvery);
      await pool.query("ANALYZE snapshots");
      // Versions spread evenly over the stream, visited in a shuffled order (7 is prime to the
      // counts used), each one short of a round number: a snapshot's own version is rare.
      const versions = Array.from({ length: loads }, (_, i) => Math.max(1, Math.round((((i * 7) % loads) + 0.5) * (streamEvents / loads)) - 1));
      const rawLoad = async (v: number) => {
        const snap = await pool.query<{ version: number }>({
          name: "old_snapshot",
          text: `SELECT version, data FROM snapshots WHERE stream_id = $1 AND snapshot_type = $2 AND version <= $3 ORDER BY version DESC LIMIT 1`,
          values: [streamId, patientDecider.aggregateType, v],
        });
        await pool.query({
          name: "old_events",
          text: "SELECT version, event_type, event_version, data FROM events WHERE stream_id = $1 AND version > $2 AND version <= $3 ORDER BY version",
          values: [streamId, snap.rows[0]?.version ?? 0, v],
        });
      };
      // Warm both connections and plans.
      await loadAtVersion(store, streamId, patientDecider, versions[0]!);
      await rawLoad(versions[0]!);
      const samples = { ours: [] as number[], raw: [] as number[] };
      let folded = 0;
      ctx.progress.step(`13 old version: ${loads} loads each`);
      for (const [i, v] of versions.entries()) {
        const runOurs = async () => {
          ctx.contenders.ours.enter();
          samples.ours.push(
            await timed(async () => {
              const loaded = await loadAtVersion(store, streamId, patientDecider, v);
              if (loaded.version !== v) throw new Error(`13 old version: loaded v${loaded.version}, asked for v${v}`);
              folded += loaded.eventsApplied;
            }),
          );
        };
        const runRaw = async () => {
          ctx.contenders.raw.enter();
          samples.raw.push(await timed(() => rawLoad(v)));
        };
        if (i % 2 === 0) await runOurs().then(runRaw);
        else await runRaw().then(runOurs);
      }
      installStockParsers();
      const size = streamEvents.toLocaleString("en-US");
      const note =
        `one patient stream of ${size} events laid down in bulk, ${snapshots} historic snapshots (every ${defaultHistoricSnapshotEvery} versions, sealed under the patient's key); ` +
        `${loads} loads at versions spread over the stream (${Math.round(folded / loads)} events folded a load on average), alternating who goes first; ` +
        `ours: loadAtVersion (the snapshot opened, the later events decoded and folded); raw: the same two reads as minimal pg statements, nothing decoded or folded; Emmett has no snapshots`;
      return [
        {
          workload: `13. load at an old version of a ${size}-event stream`,
          metric: "latency p50",
          unit: "ms",
          ours: percentile(samples.ours, 50),
          raw: percentile(samples.raw, 50),
          peer: null,
          target: streamEvents >= 100_000 ? "< 50 ms" : `< 50 ms (on ${size} events; quick and full use 100,000)`,
          better: "lower",
          check: ({ ours }) => ours < 50,
          note,
        },
        {
          workload: `13. load at an old version of a ${size}-event stream`,
          metric: "latency p95",
          unit: "ms",
          ours: percentile(samples.ours, 95),
          raw: percentile(samples.raw, 95),
          peer: null,
          target: null,
          better: "lower",
        },
      ];
    } finally {
      await close();
    }
  },
};
