// 5. Replay: read the whole log in commit order and fold it. The log is everything the earlier
// workloads wrote, topped up to the mode's size with batches of 100; each contender reads its
// own log, which holds the same number of events. A reader that returns fewer events than its
// log holds is named in the row's note.
import { writeAll } from "./appendThroughput";
import { forEachContender, inRounds, samplesByContender } from "../lib/rounds";
import { median, timed } from "../lib/stats";
import type { Workload } from "../lib/types";

export const replay: Workload = {
  number: 5,
  id: "replay",
  title: "replay the whole log",
  async run(ctx) {
    const { logEvents, pageSize, rounds } = ctx.sizes.replay;
    const writers = 4;
    // The logs hold the same rows; ours' count decides how many to add to each.
    const appends = Math.ceil(Math.max(0, logEvents - (await ctx.contenders.ours.count())) / (writers * 100));
    const stored = { ours: 0, raw: 0, peer: 0 };
    await forEachContender(ctx, "5 replay: topping up the log", async (c) => {
      if (appends > 0) await writeAll(c, writers, appends, 100, 1000);
      stored[c.name] = await c.count();
      // So a short count means the reader's paging, not another database's open transaction.
      await c.untilVisible?.(stored[c.name]);
      await c.replay(pageSize); // warm-up read
    });
    const rates = samplesByContender();
    const read = { ours: 0, raw: 0, peer: 0 };
    await inRounds(ctx, "5 replay", rounds, async (c) => {
      let events = 0;
      const ms = await timed(async () => {
        events = (await c.replay(pageSize)).events;
      });
      read[c.name] = events;
      rates[c.name].push(events / (ms / 1000));
    });
    const off = (["ours", "raw", "peer"] as const).filter((n) => read[n] !== stored[n]);
    const mismatch = off
      .map((n) => {
        const how = read[n] < stored[n] ? "skipped some" : "read some twice";
        // The peer's paging: bench/peerReplayRepro.ts reproduces it with Emmett's API alone.
        if (n === "peer") return `peer read ${read[n].toLocaleString("en-US")} events, its log holds ${stored[n].toLocaleString("en-US")} (${how}: it pages by position in transaction order, see bench/peerReplayRepro.ts)`;
        return `${n} read ${read[n].toLocaleString("en-US")} events, its log holds ${stored[n].toLocaleString("en-US")} (${how})`;
      })
      .join("; ");
    return [
      {
        workload: "5. replay the whole log and fold",
        metric: "events/s",
        unit: "events/s",
        ours: median(rates.ours),
        raw: median(rates.raw),
        peer: median(rates.peer),
        target: "≥ 50,000 events/s (seed: 1,000/s)",
        better: "higher",
        check: ({ ours }) => ours >= 50_000,
        note:
          `${stored.ours.toLocaleString("en-US")} events in pages of ${pageSize}, median of ${rounds}; ours: readAll (commit order, below the oldest running transaction) + registry decode; ` +
          `raw: position order over the primary key (not gap-safe); peer: readMessagesBatch, after every event is below its horizon` +
          (mismatch ? `; WRONG COUNT: ${mismatch}` : ""),
      },
    ];
  },
};
