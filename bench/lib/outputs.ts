// Where a bench run writes its results. The tracked bench/results/latest.{json,md} and the
// READMEs' tables are the record of the last complete full run only; --quick and --smoke (and a
// full run of some workloads) write *.tmp.* files next to them, which git ignores.
import { join } from "node:path";
import type { Mode } from "./types";

export type Outputs = { json: string; markdown: string | null; readmes: boolean };

export function outputsFor(args: { mode: Mode; out: string | null; only: string[] }, resultsDir: string): Outputs {
  const complete = args.mode === "full" && args.only.length === 0;
  const json = args.out ?? join(resultsDir, complete ? "latest.json" : `${args.mode}${args.only.length > 0 ? "-partial" : ""}.tmp.json`);
  return {
    json,
    // smoke is the test suite's check of the harness: the JSON is all it reads.
    markdown: args.mode === "smoke" ? null : `${json.replace(/\.json$/, "")}.md`,
    readmes: complete && !args.out,
  };
}
