// 3. Contended appends: 8 writers on 10 hot streams. A writer appends 5 events with the version
// it last saw; on a conflict it reads the current version and tries again. Each writer stops
// after a fixed number of successful appends, so every contender stores the same rows.
import type { Contender } from "../contenders/contender";
import { batchFor, newStreamId } from "../lib/events";
import { inRounds, samplesByContender } from "../lib/rounds";
import { median, side } from "../lib/stats";
import type { Workload } from "../lib/types";

async function contend(c: Contender, writers: number, hot: number, successes: number, batch: number) {
  const streams = Array.from({ length: hot }, newStreamId);
  for (const id of streams) {
    const created = await c.append(id, batchFor(id, 0, 1), 0);
    if (!created.ok) throw new Error(`${c.name}: could not create a hot stream`);
  }
  let conflicts = 0;
  const ms = await side(writers, async (w) => {
    const known = new Map(streams.map((id) => [id, 1]));
    let k = w;
    for (let done = 0; done < successes; ) {
      const id = streams[k++ % hot]!;
      const expected = known.get(id)!;
      const outcome = await c.append(id, batchFor(id, expected, batch), expected);
      if (outcome.ok) {
        known.set(id, outcome.version);
        done++;
      } else {
        conflicts++;
        known.set(id, outcome.actual ?? (await c.version(id)));
      }
    }
  });
  const seconds = ms / 1000;
  return { eventsPerSecond: (writers * successes * batch) / seconds, conflictsPerSecond: conflicts / seconds, conflicts };
}

export const contended: Workload = {
  number: 3,
  id: "contended",
  title: "contended appends, 8 writers on 10 hot streams",
  async run(ctx) {
    const { writers, hotStreams, successesPerWriter, batch } = ctx.sizes.contended;
    const events = samplesByContender();
    const conflicts = samplesByContender();
    const attempts = samplesByContender();
    await inRounds(ctx, "3 contended appends", ctx.sizes.rounds, async (c) => {
      const r = await contend(c, writers, hotStreams, successesPerWriter, batch);
      events[c.name].push(r.eventsPerSecond);
      conflicts[c.name].push(r.conflictsPerSecond);
      attempts[c.name].push(r.conflicts / (writers * successesPerWriter));
    });
    const workload = `3. contended appends, ${writers} writers on ${hotStreams} hot streams`;
    const perSuccess = (["ours", "raw", "peer"] as const).map((n) => `${n} ${median(attempts[n]).toFixed(2)}`).join(", ");
    return [
      {
        workload,
        metric: "successful events/s",
        unit: "events/s",
        ours: median(events.ours),
        raw: median(events.raw),
        peer: median(events.peer),
        target: null,
        better: "higher",
        note: `batches of ${batch}; ${successesPerWriter} successful appends per writer per round; on a conflict the writer reads the current version (peer: from emt_streams, its error has no actual version)`,
      },
      {
        workload,
        metric: "conflicts/s",
        unit: "conflicts/s",
        ours: median(conflicts.ours),
        raw: median(conflicts.raw),
        peer: median(conflicts.peer),
        target: null,
        better: "lower",
        note: `conflicts per successful append: ${perSuccess}; a faster store also meets more conflicts per second`,
      },
    ];
  },
};
