// 4. Load an aggregate: 100 events without a snapshot, and 1,000 events with one. The snapshot
// sits at version 975, so a load reads it plus 25 events: the mean tail when snapshots are
// taken every 50 events (EVENTSTORE_SNAPSHOT_EVERY's default).
import { isDeepStrictEqual } from "node:util";
import type { Contender } from "../contenders/contender";
import { batchFor, newStreamId } from "../lib/events";
import { forEachContender, inRounds, samplesByContender } from "../lib/rounds";
import { percentile, timed } from "../lib/stats";
import type { Figure, Workload } from "../lib/types";

const snapshotAt = 975;

async function seed(c: Contender, streamId: string, events: number, batch: number) {
  for (let v = 0; v < events; v += batch) {
    const outcome = await c.append(streamId, batchFor(streamId, v, batch), v);
    if (!outcome.ok) throw new Error(`${c.name}: conflict while seeding`);
  }
}

export const loadAggregate: Workload = {
  number: 4,
  id: "load-aggregate",
  title: "load an aggregate",
  async run(ctx) {
    const { streams100, streams1000, passesPerRound } = ctx.sizes.load;
    const small = { ours: [] as string[], raw: [] as string[], peer: [] as string[] };
    const large = { ours: [] as string[], raw: [] as string[], peer: [] as string[] };
    const snapshots = { ours: false, raw: false, peer: false };
    await forEachContender(ctx, "4 load aggregate: seeding", async (c) => {
      for (let i = 0; i < streams100; i++) {
        const id = newStreamId();
        await seed(c, id, 100, 20);
        small[c.name].push(id);
      }
      for (let i = 0; i < streams1000; i++) {
        const id = newStreamId();
        await seed(c, id, 1000, 100);
        snapshots[c.name] = await c.saveSnapshot(id, snapshotAt, await c.stateAt(id, snapshotAt));
        large[c.name].push(id);
      }
      // A snapshot is only a cache: loading with it must give the state loading without it gives.
      const id = large[c.name][0]!;
      const [withSnapshot, without] = [await c.load(id, true), await c.load(id, false)];
      if (!isDeepStrictEqual(withSnapshot, without) || without.version !== 1000) {
        throw new Error(`${c.name}: the state loaded from the snapshot differs from the full fold`);
      }
    });
    const t100 = samplesByContender();
    const t1000 = samplesByContender();
    await inRounds(ctx, "4 load aggregate", ctx.sizes.rounds, async (c) => {
      for (let pass = 0; pass < passesPerRound; pass++) {
        for (const id of small[c.name]) t100[c.name].push(await timed(() => c.load(id, false)));
        for (const id of large[c.name]) t1000[c.name].push(await timed(() => c.load(id, true)));
      }
    });
    const p = (s: typeof t100, name: keyof typeof t100, q: number) => percentile(s[name], q);
    const figures = (label: string, s: typeof t100, limit: number, seed: string, note: string): Figure[] => [
      {
        workload: label,
        metric: "latency p50",
        unit: "ms",
        ours: p(s, "ours", 50),
        raw: p(s, "raw", 50),
        peer: p(s, "peer", 50),
        target: `< ${limit} ms and ≤ 2× raw (seed: ${seed})`,
        better: "lower",
        check: ({ ours, raw }) => raw !== null && ours < limit && ours <= 2 * raw,
        note,
      },
      {
        workload: label,
        metric: "latency p99",
        unit: "ms",
        ours: p(s, "ours", 99),
        raw: p(s, "raw", 99),
        peer: p(s, "peer", 99),
        target: null,
        better: "lower",
      },
    ];
    const peerNote = snapshots.peer ? "" : "; peer has no snapshots in its PostgreSQL store, so it folds all 1,000 events";
    return [
      ...figures(
        "4. load aggregate, 100 events, no snapshot",
        t100,
        5,
        "200 ms",
        `${t100.ours.length} loads per contender; read by stream + decode + fold`,
      ),
      ...figures(
        "4. load aggregate, 1,000 events, snapshot",
        t1000,
        2,
        "50 ms",
        `snapshot at v${snapshotAt} + 25 later events; ${t1000.ours.length} loads per contender${peerNote}`,
      ),
    ];
  },
};
