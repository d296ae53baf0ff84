// The results: rows with their ratios and verdicts, the markdown table (printed, written to
// bench/results/latest.md and, after a full run, into bench/README.md), and latest.json.
import { readFileSync, writeFileSync } from "node:fs";
import type { Machine } from "./machine";
import { round3 } from "./stats";
import type { Figure, Mode, Row, Unavailable } from "./types";

export type Report = {
  date: string;
  mode: Mode;
  commit: string;
  dirty: boolean | null;
  machine: Machine;
  versions: Record<string, string>;
  /** The machine's 1-minute load average when the run started and ended (2 cores: above ~2, others were busy too). */
  loadAverage: { start: number; end: number };
  /** The run's own databases (created and dropped by it). */
  databases: string[];
  durationSeconds: number;
  rows: Row[];
  unavailable: Unavailable[];
};

const ratio = (a: number | null, b: number | null) => (a === null || b === null || b === 0 ? null : Math.round((a / b) * 100) / 100);

export function toRow(f: Figure): Row {
  const { check, ...rest } = f;
  const ours = f.ours === null ? null : round3(f.ours);
  const raw = f.raw === null ? null : round3(f.raw);
  const peer = f.peer === null ? null : round3(f.peer);
  return {
    ...rest,
    ours,
    raw,
    peer,
    oursToRaw: ratio(f.ours, f.raw),
    oursToPeer: ratio(f.ours, f.peer),
    met: check && f.ours !== null ? check({ ours: f.ours, raw: f.raw, peer: f.peer }) : null,
  };
}

function num(value: number | null): string {
  if (value === null || Number.isNaN(value)) return "—";
  if (Math.abs(value) >= 1000) return Math.round(value).toLocaleString("en-US");
  return String(value);
}

const times = (value: number | null) => (value === null ? "—" : `${value.toFixed(2)}×`);
const verdict = (met: boolean | null) => (met === null ? "—" : met ? "yes" : "**no**");

export function markdownTable(report: Report): string {
  const lines = [
    "| workload | metric | ours | raw | peer | ours/raw | ours/peer | target | met |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |",
  ];
  const notes: string[] = [];
  for (const row of report.rows) {
    let metric = `${row.metric} (${row.unit})`;
    if (row.note) {
      notes.push(row.note);
      metric += ` [${notes.length}]`;
    }
    lines.push(
      `| ${row.workload} | ${metric} | ${num(row.ours)} | ${num(row.raw)} | ${num(row.peer)} | ${times(row.oursToRaw)} | ${times(row.oursToPeer)} | ${row.target ?? "—"} | ${verdict(row.met)} |`,
    );
  }
  const out = [lines.join("\n")];
  if (notes.length > 0) out.push(notes.map((n, i) => `${i + 1}. ${n}`).join("\n"));
  if (report.unavailable.length > 0) {
    out.push(`Not measured in this run:\n${report.unavailable.map((u) => `- ${u.workload}: ${u.reason}`).join("\n")}`);
  }
  return out.join("\n\n");
}

export function machineLine(report: Report): string {
  const m = report.machine;
  const pg = Object.entries(m.postgresSettings)
    .map(([k, v]) => `${k}=${v}`)
    .join(", ");
  return [
    `${report.date.slice(0, 16).replace("T", " ")} UTC, ${report.mode} run (${report.durationSeconds} s), commit ${report.commit.slice(0, 12)}${report.dirty ? " + uncommitted changes" : ""}`,
    `${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, load average ${report.loadAverage.start} → ${report.loadAverage.end}; ${m.os}; Node ${m.node}; PostgreSQL ${m.postgres} (${pg})`,
    `${Object.entries(report.versions)
      .map(([k, v]) => `${k} ${v}`)
      .join(", ")}`,
  ].join("  \n");
}

export function markdownReport(report: Report): string {
  return `${machineLine(report)}\n\n${markdownTable(report)}\n`;
}

const start = "<!-- bench:latest:start -->";
const end = "<!-- bench:latest:end -->";

/** Replaces the README's results section (between the markers) with this report. */
export function updateReadme(path: string, report: Report): boolean {
  const text = readFileSync(path, "utf8");
  const a = text.indexOf(start);
  const b = text.indexOf(end);
  if (a < 0 || b < a) return false;
  writeFileSync(path, `${text.slice(0, a + start.length)}\n${markdownReport(report)}${text.slice(b)}`);
  return true;
}
