// npm run bench [-- --quick | --smoke] [--no-http] [--only=1,4,replay] [--out=file.json]
// Creates fresh databases next to DATABASE_URL (default: the local server), runs the workloads
// for our store, raw SQL and Emmett side by side, prints the table, writes
// bench/results/latest.{json,md} and the table in README.md and bench/README.md after a complete
// full run (--quick and --smoke write bench/results/*.tmp.*, ignored by git), drops the databases.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { runBench } from "./harness";
import { runCleanups } from "./lib/cleanup";
import { describeUrl } from "./lib/database";
import { createProgress } from "./lib/progress";
import { outputsFor } from "./lib/outputs";
import { markdownReport, updateReadme } from "./lib/report";
import type { Mode } from "./lib/types";
import { workloads } from "./workloads";
import { phiOverhead } from "./phiOverhead";
import { patientSearch } from "./workloads/patientSearch";
import { oldVersion } from "./workloads/oldVersion";
import { scale } from "./workloads/scale";

// Rows 10 (PHI encryption overhead), 11 (patient search), 12 (at scale) and 13 (an old version of a
// long stream) live in modules of their own.
workloads.push(phiOverhead);
if (!workloads.includes(patientSearch)) workloads.push(patientSearch);
if (!workloads.includes(scale)) workloads.push(scale);
if (!workloads.includes(oldVersion)) workloads.push(oldVersion);

const usage = `usage: npm run bench [-- --quick | --smoke] [--no-http] [--only=<ids or numbers>] [--out=<file.json>]
  (default)  the full run, 18-30 minutes (a third of it row 12's ten-million-event lay-down); writes bench/results/latest.json and .md and the README's table
  --quick    a reduced run, about 2 minutes; writes bench/results/quick.tmp.json and .md (not the tracked latest.*)
  --smoke    a few iterations of everything but HTTP (the test suite's); writes only --out
  DATABASE_URL  the PostgreSQL server to create the run's databases on (default postgresql://postgres@127.0.0.1:5432/postgres)`;

function parseArgs(argv: string[]) {
  let mode: Mode = "full";
  let http = true;
  let only: string[] = [];
  let out: string | null = null;
  for (const arg of argv) {
    if (arg === "--quick") mode = "quick";
    else if (arg === "--smoke") mode = "smoke";
    else if (arg === "--full") mode = "full";
    else if (arg === "--no-http") http = false;
    else if (arg.startsWith("--only=")) only = arg.slice(7).split(",").filter(Boolean);
    else if (arg.startsWith("--out=")) out = arg.slice(6);
    else if (arg === "--help" || arg === "-h") {
      console.log(usage);
      process.exit(0);
    } else {
      console.error(`unknown argument ${arg}\n${usage}`);
      process.exit(2);
    }
  }
  if (mode === "smoke") http = false;
  return { mode, http, only, out };
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const baseUrl = process.env.DATABASE_URL?.trim() || "postgresql://postgres@127.0.0.1:5432/postgres";
  const progress = createProgress();
  let interrupted = false;
  const stop = (signal: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    progress.done();
    console.error(`\n${signal}: stopping the app server, closing pools, dropping the bench databases…`);
    void runCleanups((l) => console.error(l)).finally(() => process.exit(130));
  };
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);

  progress.note(`bench (${args.mode}) on ${describeUrl(baseUrl)}`);
  let result;
  try {
    result = await runBench({ mode: args.mode, baseUrl, http: args.http, only: args.only, progress });
  } finally {
    progress.step("cleaning up (dropping the bench databases)");
    await runCleanups((l) => console.error(l));
    progress.done();
  }
  const { report, failed } = result;
  const markdown = markdownReport(report);
  console.log(`\n${markdown}`);

  const outputs = outputsFor(args, join(process.cwd(), "bench", "results"));
  mkdirSync(dirname(outputs.json), { recursive: true });
  writeFileSync(outputs.json, `${JSON.stringify(report, null, 2)}\n`);
  const written = [outputs.json];
  if (outputs.markdown) {
    writeFileSync(outputs.markdown, markdown);
    written.push(outputs.markdown);
  }
  if (outputs.readmes && failed.length === 0) {
    // The project's README shows the latest table too, between the same markers.
    for (const readme of [join(process.cwd(), "README.md"), join(process.cwd(), "bench", "README.md")]) {
      if (updateReadme(readme, report)) written.push(readme);
    }
  }
  console.log(`written: ${written.map((p) => p.replace(`${process.cwd()}/`, "")).join(", ")}`);
  if (failed.length > 0) {
    console.error(`\n${failed.length} workload(s) failed:\n${failed.join("\n\n")}`);
    process.exit(1);
  }
  process.exit(0);
}

main().catch(async (error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  await runCleanups((l) => console.error(l));
  process.exit(1);
});
