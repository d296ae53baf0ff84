// The shapes the harness passes around: modes and their sizes, result rows, workload modules.
import type { Database } from "../../server/db/client";
import type { Contenders } from "../contenders/contender";
import type { Progress } from "./progress";
import type { Sizes } from "./sizes";

export type Mode = "full" | "quick" | "smoke";

/** One figure of the table, exactly as bench/results/latest.json stores it. */
export type Row = {
  workload: string;
  metric: string;
  unit: string;
  ours: number | null;
  raw: number | null;
  peer: number | null;
  /** ours / raw and ours / peer: null where a column is null. */
  oursToRaw: number | null;
  oursToPeer: number | null;
  /** The target for this figure in words; null where the issue sets none. */
  target: string | null;
  better: "lower" | "higher";
  /** Whether `ours` meets the target; null where there is no target. */
  met: boolean | null;
  /** What was measured, and anything that makes a column not like-for-like. */
  note?: string;
};

/** A row before ratios are filled in. */
export type Figure = Omit<Row, "oursToRaw" | "oursToPeer" | "met"> & {
  /** Decides `met` from the row's own numbers; omitted where there is no target. */
  check?: (f: { ours: number; raw: number | null; peer: number | null }) => boolean;
};

export type BenchContext = {
  mode: Mode;
  sizes: Sizes;
  contenders: Contenders;
  progress: Progress;
  /** The fresh database ours and raw live in (the HTTP row serves the app from it). */
  oursUrl: string;
  /** Ours' open database, for the in-process figures beside the HTTP ones. */
  oursDatabase: Database;
  /** Connections in each contender's pool (the HTTP row gives the app the same). */
  poolMax: number;
  /** Figures earlier workloads measured, by key, for rows that show them side by side. */
  shared: Map<string, number>;
  /** Whether the HTTP row may start the app (off in --smoke and with --no-http). */
  http: boolean;
  /** Parts of a workload that could not run, with the reason; printed and stored with the rows. */
  unavailable: Unavailable[];
};

export type Unavailable = { workload: string; reason: string };

/**
 * One row group of the issue: a small module under bench/workloads. `unavailable` says why it
 * cannot run (yet); `run` returns its figures.
 */
export type Workload = {
  /** The row number. */
  number: number;
  id: string;
  title: string;
  unavailable?: (ctx: BenchContext) => Promise<string | null> | string | null;
  run: (ctx: BenchContext) => Promise<Figure[]>;
};
