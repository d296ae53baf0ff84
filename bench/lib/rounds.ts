// Runs every contender (or the ones given) once per round, in rotated order, with its driver
// settings installed: on a small noisy machine the columns then share the same drift.
import type { Contender } from "../contenders/contender";
import { installStockParsers } from "./pgTypes";
import { rotated } from "./stats";
import type { BenchContext } from "./types";

export async function inRounds(
  ctx: BenchContext,
  label: string,
  rounds: number,
  body: (contender: Contender, round: number) => Promise<void>,
  contenders: readonly Contender[] = ctx.contenders.all,
): Promise<void> {
  for (let round = 0; round < rounds; round++) {
    for (const contender of rotated(contenders, round)) {
      ctx.progress.step(`${label} · ${contender.name} · round ${round + 1}/${rounds}`);
      contender.enter();
      await body(contender, round);
    }
  }
  // Whatever runs next (ours' own queries included) reads with the stock parsers.
  installStockParsers();
}

/** Per-contender sample lists, filled by inRounds bodies. */
export function samplesByContender(): Record<Contender["name"], number[]> {
  return { ours: [], raw: [], peer: [] };
}

/** Calls `body` for each contender (setup work, not measured), driver settings installed. */
export async function forEachContender(ctx: BenchContext, label: string, body: (contender: Contender) => Promise<void>) {
  for (const contender of ctx.contenders.all) {
    ctx.progress.step(`${label} · ${contender.name}`);
    contender.enter();
    await body(contender);
  }
  installStockParsers();
}

/** A writer's streams: a new stream after `eventsPerStream` events, so streams stay realistic in size. */
export function rollingStream(newId: () => string, eventsPerStream: number) {
  let streamId = newId();
  let version = 0;
  return {
    next(batch: number): { streamId: string; expected: number } {
      if (version + batch > eventsPerStream) {
        streamId = newId();
        version = 0;
      }
      return { streamId, expected: version };
    },
    appended(newVersion: number) {
      version = newVersion;
    },
  };
}
