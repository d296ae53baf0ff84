// One bench run: fresh databases, the three contenders, every workload in order, the report.
// run.ts is the command line around it; the smoke test runs it through run.ts too.
import { existsSync, readFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import type { Contenders } from "./contenders/contender";
import { openOurs } from "./contenders/ours";
import { openPeer } from "./contenders/peer";
import { openRaw } from "./contenders/raw";
import { onCleanup } from "./lib/cleanup";
import { createBenchDatabases } from "./lib/database";
import { gitInfo, machineFacts } from "./lib/machine";
import { peerParserOids, installStockParsers } from "./lib/pgTypes";
import type { Progress } from "./lib/progress";
import { toRow, type Report } from "./lib/report";
import { sizesFor } from "./lib/sizes";
import type { BenchContext, Mode, Row } from "./lib/types";
import { workloads } from "./workloads";

export type BenchOptions = {
  mode: Mode;
  /** The server to create the run's databases on (DATABASE_URL). */
  baseUrl: string;
  http: boolean;
  /** Only these workloads (ids or row numbers); all when empty. */
  only: string[];
  progress: Progress;
};

export type BenchResult = { report: Report; failed: string[] };

function versionOf(pkg: string): string {
  const path = join(process.cwd(), "node_modules", pkg, "package.json");
  return existsSync(path) ? (JSON.parse(readFileSync(path, "utf8")) as { version: string }).version : "?";
}

const load1 = () => Math.round(os.loadavg()[0]! * 10) / 10;

export async function runBench(options: BenchOptions): Promise<BenchResult> {
  const started = performance.now();
  const loadAtStart = load1();
  const { progress, mode } = options;
  const sizes = sizesFor[mode];
  progress.step("creating fresh databases");
  const dbs = await createBenchDatabases(options.baseUrl);
  onCleanup("drop the bench databases", () => dbs.drop());
  const machine = await machineFacts(options.baseUrl);
  const git = gitInfo();

  progress.step("opening ours (migrate), raw (tables) and peer (Emmett's schema)");
  const poolMax = Math.max(sizes.throughput.writers, sizes.contended.writers);
  const ours = await openOurs(dbs.oursUrl, poolMax);
  onCleanup("close ours", () => ours.close());
  const raw = await openRaw(dbs.oursUrl, poolMax);
  onCleanup("close raw", () => raw.close());
  const peer = await openPeer(dbs.peerUrl, poolMax);
  onCleanup("close peer", () => peer.close());
  installStockParsers();
  const contenders: Contenders = { ours, raw, peer, all: [ours, raw, peer] };

  const ctx: BenchContext = {
    mode,
    sizes,
    contenders,
    progress,
    oursUrl: dbs.oursUrl,
    oursDatabase: ours.database,
    poolMax,
    shared: new Map(),
    http: options.http,
    unavailable: [],
  };
  const rows: Row[] = [];
  const failed: string[] = [];
  const selected = (id: string, n: number) => options.only.length === 0 || options.only.includes(id) || options.only.includes(String(n));
  for (const w of workloads) {
    if (!selected(w.id, w.number)) continue;
    const why = w.unavailable ? await w.unavailable(ctx) : null;
    if (why) {
      ctx.unavailable.push({ workload: `${w.number}. ${w.title}`, reason: why });
      continue;
    }
    try {
      for (const figure of await w.run(ctx)) rows.push(toRow(figure));
    } catch (error) {
      const message = (error as Error).stack ?? String(error);
      failed.push(`${w.number}. ${w.title}: ${message}`);
      ctx.unavailable.push({ workload: `${w.number}. ${w.title}`, reason: `FAILED: ${(error as Error).message}` });
      progress.note(`workload ${w.id} failed: ${message}`);
    }
  }
  installStockParsers();

  const report: Report = {
    date: new Date().toISOString(),
    mode,
    commit: git.commit,
    dirty: git.dirty,
    machine,
    versions: {
      "@event-driven-io/emmett-postgresql": versionOf("@event-driven-io/emmett-postgresql"),
      "@prisma/client": versionOf("@prisma/client"),
      "@prisma/adapter-pg": versionOf("@prisma/adapter-pg"),
      pg: versionOf("pg"),
      next: versionOf("next"),
      autocannon: versionOf("autocannon"),
    },
    loadAverage: { start: loadAtStart, end: load1() },
    databases: [dbs.oursUrl, dbs.peerUrl].map((u) => new URL(u).pathname.slice(1)),
    durationSeconds: 0,
    rows,
    unavailable: ctx.unavailable,
  };
  if (peerParserOids().length === 0) progress.note("note: the peer's driver changed no pg type parsers");
  report.durationSeconds = Math.round((performance.now() - started) / 1000);
  return { report, failed };
}
