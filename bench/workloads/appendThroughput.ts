// 2. Append throughput: 8 writers on distinct streams, batches of 5 and of 100. Each round, each
// writer makes a fixed number of appends (the same rows for every contender); events/s is the
// median over rounds of all events / wall time.
import type { Contender } from "../contenders/contender";
import { batchFor, newStreamId } from "../lib/events";
import { inRounds, rollingStream, samplesByContender } from "../lib/rounds";
import { median, side } from "../lib/stats";
import type { BenchContext, Figure, Workload } from "../lib/types";

/** Appends `appends` batches per writer on the writer's own streams; returns events/s and this process's CPU per event. */
export async function writeAll(
  c: Contender,
  writers: number,
  appends: number,
  batch: number,
  eventsPerStream: number,
): Promise<{ perSecond: number; cpuMsPerEvent: number }> {
  const cpu = process.cpuUsage();
  const ms = await side(writers, async () => {
    const stream = rollingStream(newStreamId, eventsPerStream);
    for (let i = 0; i < appends; i++) {
      const { streamId, expected } = stream.next(batch);
      const outcome = await c.append(streamId, batchFor(streamId, expected, batch), expected);
      if (!outcome.ok) throw new Error(`${c.name}: unexpected conflict on a stream only this writer writes`);
      stream.appended(outcome.version);
    }
  });
  const used = process.cpuUsage(cpu);
  const events = writers * appends * batch;
  return { perSecond: events / (ms / 1000), cpuMsPerEvent: (used.user + used.system) / 1000 / events };
}

async function measure(ctx: BenchContext, batch: number, appends: number, eventsPerStream: number): Promise<Figure> {
  const { writers } = ctx.sizes.throughput;
  const rates = samplesByContender();
  const cpu = samplesByContender();
  await inRounds(ctx, `2 append throughput, batch ${batch}`, ctx.sizes.rounds, async (c, round) => {
    if (round === 0) await writeAll(c, writers, 2, batch, eventsPerStream); // opens the pool's connections
    const r = await writeAll(c, writers, appends, batch, eventsPerStream);
    rates[c.name].push(r.perSecond);
    cpu[c.name].push(r.cpuMsPerEvent * 1000);
  });
  const cpuNote = (["ours", "raw", "peer"] as const).map((n) => `${n} ${Math.round(median(cpu[n]))}`).join(", ");
  return {
    workload: `2. append throughput, ${writers} writers, batch ${batch}`,
    metric: "events/s",
    unit: "events/s",
    ours: median(rates.ours),
    raw: median(rates.raw),
    peer: median(rates.peer),
    // The lines: 0.75× raw with batches of 5, 0.85× with batches of 100 (were 0.60×).
    target: `≥ ${batch >= 100 ? "0.85" : "0.75"}× raw and ahead of peer`,
    better: "higher",
    check: ({ ours, raw, peer }) => raw !== null && peer !== null && ours >= (batch >= 100 ? 0.85 : 0.75) * raw && ours > peer,
    note: `${writers} writers × ${appends} appends × ${batch} events per round, median of ${ctx.sizes.rounds} round(s); bench process CPU per event (µs): ${cpuNote}`,
  };
}

export const appendThroughput: Workload = {
  number: 2,
  id: "append-throughput",
  title: "append throughput, 8 writers, distinct streams",
  async run(ctx) {
    const { appendsPerWriter5, appendsPerWriter100 } = ctx.sizes.throughput;
    return [await measure(ctx, 5, appendsPerWriter5, 100), await measure(ctx, 100, appendsPerWriter100, 1000)];
  },
};
