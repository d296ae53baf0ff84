// 5. Replay: read the whole log in commit order and fold it. The log is everything the earlier
// workloads wrote, topped up to the mode's size with batches of 100; each contender reads its
// own log, which holds the same number of events. A reader that returns fewer events than its
// log holds is named in the row's note.
import { writeAll } from "./appendThroughput";
import { settleServer } from "../lib/database";
import type { Contender } from "../contenders/contender";
import { forEachContender, inRounds, samplesByContender } from "../lib/rounds";
import { median, rssDuring, timed } from "../lib/stats";
import type { Workload } from "../lib/types";

export const replay: Workload = {
  number: 5,
  id: "replay",
  title: "replay the whole log",
  async run(ctx) {
    const { logEvents, pageSize, rounds, peerRounds } = ctx.sizes.replay;
    const writers = 4;
    // The logs hold the same rows; ours' count decides how many to add to each.
    const appends = Math.ceil(Math.max(0, logEvents - (await ctx.contenders.ours.count())) / (writers * 100));
    const stored = { ours: 0, raw: 0, peer: 0 };
    await forEachContender(ctx, "5 replay: topping up the log", async (c) => {
      if (appends > 0) await writeAll(c, writers, appends, 100, 1000);
      stored[c.name] = await c.count();
      // So a short count means the reader's paging, not another database's open transaction.
      await c.untilVisible?.(stored[c.name]);
    });
    // Rows 2-4 and the top-up wrote every log just now. A live database's background work after
    // such a burst (autovacuum, a checkpoint) is done before the reads are timed, for every
    // column alike, so that a read of a few seconds does not meet it. (It was not what made row 5
    // low in some full runs: too few rounds on a drifting machine were, bench/README.md round
    // twenty; hence ours and raw taking turns 8 times below.)
    await forEachContender(ctx, "5 replay: VACUUM (ANALYZE) of the log", (c) => c.vacuumLog());
    ctx.progress.step("5 replay: a checkpoint, and until no autovacuum worker runs");
    const unsettled = await settleServer(ctx.oursUrl);
    await forEachContender(ctx, "5 replay: a warm-up read", async (c) => void (await c.replay(pageSize)));
    const rates = samplesByContender();
    const rss = samplesByContender();
    const growth = samplesByContender();
    const read = { ours: 0, raw: 0, peer: 0 };
    const timedRead = async (c: Contender) => {
      let events = 0;
      // Collected before, so one round's garbage does not count against the next (with --expose-gc).
      (globalThis as { gc?: () => void }).gc?.();
      const { peakMb, growthMb } = await rssDuring(() =>
        timed(async () => {
          events = (await c.replay(pageSize)).events;
        }).then((ms) => rates[c.name].push(events / (ms / 1000))),
      );
      rss[c.name].push(peakMb);
      growth[c.name].push(growthMb);
      read[c.name] = events;
    };
    const { ours, raw, peer } = ctx.contenders;
    await inRounds(ctx, "5 replay", rounds, timedRead, [ours, raw]);
    await inRounds(ctx, "5 replay", peerRounds, timedRead, [peer]);
    const off = (["ours", "raw", "peer"] as const).filter((n) => read[n] !== stored[n]);
    const mismatch = off
      .map((n) => {
        const how = read[n] < stored[n] ? "skipped some" : "read some twice";
        // The peer's paging: bench/peerReplayRepro.ts reproduces it with Emmett's API alone.
        if (n === "peer") return `peer read ${read[n].toLocaleString("en-US")} events, its log holds ${stored[n].toLocaleString("en-US")} (${how}: it pages by position in transaction order, see bench/peerReplayRepro.ts)`;
        return `${n} read ${read[n].toLocaleString("en-US")} events, its log holds ${stored[n].toLocaleString("en-US")} (${how})`;
      })
      .join("; ");
    const logMb = Math.round((stored.ours * 450) / 1e6);
    const memory = {
      workload: "5. replay the whole log and fold",
      metric: "bench process peak RSS during a replay",
      unit: "MB",
      ours: Math.max(...rss.ours),
      raw: Math.max(...rss.raw),
      peer: Math.max(...rss.peer),
      target: null,
      better: "lower" as const,
      note: `resident memory of the bench process (all contenders' pools and state included), sampled every 5 ms, highest of ${rounds} round(s) (the peer's ${peerRounds}); rise over where the replay started: ${(["ours", "raw", "peer"] as const).map((n) => `${n} ${Math.round(Math.max(...growth[n]))} MB`).join(", ")}; the log is ~${logMb} MB of JSON (~450 B an event), which a reader that held it all would add several times over as objects; ours streams pages (streamAll: at most two pages held)`,
    };
    return [
      {
        workload: "5. replay the whole log and fold",
        metric: "events/s",
        unit: "events/s",
        ours: median(rates.ours),
        raw: median(rates.raw),
        peer: median(rates.peer),
        target: "≥ 0.70× raw (was ≥ 50,000 events/s)",
        better: "higher",
        check: ({ ours, raw }) => raw !== null && ours >= 0.7 * raw,
        note:
          `${stored.ours.toLocaleString("en-US")} events in pages of ${pageSize}, median of ${rounds} reads each for ours and raw, taking turns, and of ${peerRounds} for the peer after them; ours: streamAll (readAll's commit order below the oldest running transaction, the next page read while this one folds) + trusted decode (upcast, shape-checked; validated on write); ` +
          `raw: position order over the primary key (not gap-safe); peer: readMessagesBatch, after every event is below its horizon; ` +
          `before the timed reads, each log VACUUM (ANALYZE)d, a CHECKPOINT, no autovacuum worker running, and a warm-up read each` +
          (unsettled.length > 0 ? ` (except: ${unsettled.join("; ")})` : "") +
          (mismatch ? `; WRONG COUNT: ${mismatch}` : ""),
      },
      memory,
    ];
  },
};
