// 1. Append a batch of 5 events, one writer: latency p50/p99. A writer appends to its stream
// with the version it knows, and starts a new stream every 100 events.
import { batchFor, newStreamId } from "../lib/events";
import { inRounds, rollingStream, samplesByContender } from "../lib/rounds";
import { percentile, timed } from "../lib/stats";
import type { Workload } from "../lib/types";

export const appendLatency: Workload = {
  number: 1,
  id: "append-latency",
  title: "append 5 events, one writer",
  async run(ctx) {
    const { warmup, perRound } = ctx.sizes.latency;
    const samples = samplesByContender();
    const writers = { ours: rollingStream(newStreamId, 100), raw: rollingStream(newStreamId, 100), peer: rollingStream(newStreamId, 100) };
    await inRounds(ctx, "1 append latency", ctx.sizes.rounds, async (c, round) => {
      const writer = writers[c.name];
      const count = perRound + (round === 0 ? warmup : 0);
      for (let i = 0; i < count; i++) {
        const { streamId, expected } = writer.next(5);
        const batch = batchFor(streamId, expected, 5);
        let outcome!: Awaited<ReturnType<typeof c.append>>;
        const ms = await timed(async () => {
          outcome = await c.append(streamId, batch, expected);
        });
        if (!outcome.ok) throw new Error(`${c.name}: unexpected conflict on a stream only this writer writes`);
        writer.appended(outcome.version);
        if (round > 0 || i >= warmup) samples[c.name].push(ms);
      }
    });
    const p = (name: keyof typeof samples, q: number) => percentile(samples[name], q);
    ctx.shared.set("append5.p50.ours", p("ours", 50));
    const n = samples.ours.length;
    return [
      {
        workload: "1. append 5 events, one writer",
        metric: "latency p50",
        unit: "ms",
        ours: p("ours", 50),
        raw: p("raw", 50),
        peer: p("peer", 50),
        target: "≤ 1.25× raw and < 10 ms (was ≤ 1.5×)",
        better: "lower",
        check: ({ ours, raw }) => raw !== null && ours <= 1.25 * raw && ours < 10,
        note: `${n} appends per contender; a new stream every 20 appends`,
      },
      {
        workload: "1. append 5 events, one writer",
        metric: "latency p99",
        unit: "ms",
        ours: p("ours", 99),
        raw: p("raw", 99),
        peer: p("peer", 99),
        target: null,
        better: "lower",
      },
    ];
  },
};
