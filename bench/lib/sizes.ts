// How much each workload does in each mode. The full run takes 18-30 minutes, --quick about 2, and
// --smoke (the test suite's) is only big enough to prove every path runs.
import type { Mode } from "./types";

export type Sizes = {
  /** Rounds: each round runs every contender once, in rotated order, so drift hits all alike. */
  rounds: number;
  latency: { warmup: number; perRound: number };
  throughput: { writers: number; appendsPerWriter5: number; appendsPerWriter100: number };
  contended: { writers: number; hotStreams: number; successesPerWriter: number; batch: number };
  load: { streams100: number; streams1000: number; passesPerRound: number };
  /**
   * Ours and raw take turns `rounds` times (a replay is a few seconds: the median of many, each
   * pair a few seconds apart, is what steadies the ratio on a noisy machine); the peer, several
   * times slower, reads `peerRounds` times after them.
   */
  replay: { logEvents: number; pageSize: number; rounds: number; peerRounds: number };
  /** seconds: measured per side, in `rounds` alternating rounds (HTTP and in-process take turns going first). */
  http: { connections: number; warmupSeconds: number; seconds: number; rounds: number };
  audit: { logEvents: number; passes: number };
  outbox: { seconds: number };
  /** Row 12: the bulk-laid log's sizes (each measured), the export's window, the audit passes. */
  scale: { sizes: number[]; exportWindow: number; auditPasses: number; pageSize: number };
  /** Row 13: one stream's length and the loads at old versions. */
  oldVersion: { streamEvents: number; loads: number };
};

const full: Sizes = {
  rounds: 3,
  latency: { warmup: 100, perRound: 400 },
  throughput: { writers: 8, appendsPerWriter5: 300, appendsPerWriter100: 40 },
  contended: { writers: 8, hotStreams: 10, successesPerWriter: 100, batch: 5 },
  load: { streams100: 20, streams1000: 5, passesPerRound: 10 },
  replay: { logEvents: 150_000, pageSize: 1000, rounds: 8, peerRounds: 2 },
  http: { connections: 8, warmupSeconds: 3, seconds: 10, rounds: 4 },
  audit: { logEvents: 1_000_000, passes: 25 },
  outbox: { seconds: 10 },
  scale: { sizes: [1_000_000, 10_000_000], exportWindow: 100_000, auditPasses: 10, pageSize: 1000 },
  oldVersion: { streamEvents: 100_000, loads: 40 },
};

const quick: Sizes = {
  rounds: 2,
  latency: { warmup: 50, perRound: 150 },
  throughput: { writers: 8, appendsPerWriter5: 100, appendsPerWriter100: 12 },
  contended: { writers: 8, hotStreams: 10, successesPerWriter: 20, batch: 5 },
  load: { streams100: 10, streams1000: 3, passesPerRound: 5 },
  replay: { logEvents: 50_000, pageSize: 1000, rounds: 1, peerRounds: 1 },
  http: { connections: 8, warmupSeconds: 0.5, seconds: 2, rounds: 2 },
  audit: { logEvents: 100_000, passes: 10 },
  outbox: { seconds: 4 },
  scale: { sizes: [100_000, 250_000], exportWindow: 20_000, auditPasses: 3, pageSize: 1000 },
  oldVersion: { streamEvents: 100_000, loads: 15 },
};

const smoke: Sizes = {
  rounds: 1,
  latency: { warmup: 3, perRound: 10 },
  throughput: { writers: 4, appendsPerWriter5: 5, appendsPerWriter100: 2 },
  contended: { writers: 4, hotStreams: 2, successesPerWriter: 3, batch: 5 },
  load: { streams100: 2, streams1000: 1, passesPerRound: 2 },
  replay: { logEvents: 2_000, pageSize: 500, rounds: 1, peerRounds: 1 },
  http: { connections: 2, warmupSeconds: 0, seconds: 1, rounds: 1 },
  audit: { logEvents: 3_000, passes: 2 },
  outbox: { seconds: 1 },
  scale: { sizes: [3_000, 6_000], exportWindow: 1_000, auditPasses: 1, pageSize: 500 },
  oldVersion: { streamEvents: 2_000, loads: 3 },
};

export const sizesFor: Record<Mode, Sizes> = { full, quick, smoke };
