// What an append costs the PostgreSQL server in instructions, not seconds: `npx tsx
// bench/diagnoseCallgrind.ts`. On a shared 2-core machine wall time and even CPU time move with
// whatever else runs (a quick bench's row 1 swings by ±0.2×); valgrind's callgrind counts the
// instructions a process executes, the same for the same binary and input whatever the load.
//
// It makes a throwaway cluster (initdb, as the postgres OS user when run as root), migrates it as
// the app's schema, applies each variant's SQL to a copy of it, and runs `postgres --single` under
// callgrind on a script of appends (`append_to_stream` with the bench's 5-event batches, a new
// stream every 20 appends, the arguments appendToStream sends, to a prepared statement; the raw
// contender's statement prepared alike), counting only inside PortalRun. Each variant runs
// twice, with N and 2N appends on fresh copies of its cluster; the difference over N is the
// instructions per append, without start-up and shutdown. Single-user mode plans and runs the
// same statements as a backend does; what it leaves out is the client protocol and the commit
// (the same for every variant: one transaction a statement), and time spent waiting (fsync),
// which instructions do not measure.
//
//   CALLGRIND_N=300 CALLGRIND_VARIANTS=as-is,invoker npx tsx bench/diagnoseCallgrind.ts
//   CALLGRIND_SQL=candidate.sql npx tsx bench/diagnoseCallgrind.ts     # one more variant: that SQL applied
//   CALLGRIND_KEEP=/tmp/cg npx tsx bench/diagnoseCallgrind.ts          # keep the profiles, for
//     callgrind_annotate --inclusive=yes /tmp/cg/callgrind-as-is-large.out | head -60
//
// Variants (CALLGRIND_VARIANTS, default all): see `variants` below.
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { openDatabase } from "../server/db/client";
import { migrate } from "../server/db/migrate";
import { encodeColumns } from "../server/eventStore/append";
import type { NewEvent } from "../server/eventStore/types";
import { appendStream, createStream, rawColumns, rawDdl } from "./contenders/raw";
import { aggregateType, batchFor, benchRegistry, newStreamId } from "./lib/events";

/** Single-user mode ends a statement at a newline: SQL without comments, on one line. */
function oneLine(sql: string): string {
  return sql.replace(/--[^\n]*/g, "").replace(/\s+/g, " ").trim();
}

const appendSignature =
  "append_to_stream(text, text, integer, uuid[], text[], integer[], jsonb, jsonb, timestamptz[], text[], text[], text[])";

/**
 * Each variant: SQL applied to the migrated cluster before its runs, and which statements its
 * script sends: today's append_to_stream, or the raw contender's one statement (the bench's
 * ceiling, on its own key-only tables) as a prepared statement.
 */
type Variant = { sql: string; script: "function" | "raw" };
const variants: Record<string, Variant> = {
  "as-is": { sql: "", script: "function" },
  // The function as it was before 20261202020000: run as the caller, search_path not pinned.
  invoker: { sql: `ALTER FUNCTION ${appendSignature} SECURITY INVOKER; ALTER FUNCTION ${appendSignature} RESET search_path;`, script: "function" },
  // Without the six audit-filter indexes (the ones round six's experiment dropped).
  "no audit indexes": {
    sql: [
      "events_occurred_at_idx",
      "events_recorded_at_idx",
      "events_event_type_idx",
      "events_user_id_idx",
      "events_caused_by_event_idx",
      "events_correlation_id_idx",
    ]
      .map((i) => `DROP INDEX IF EXISTS ${i};`)
      .join(" "),
    script: "function",
  },
  // The hash chain stubbed out (the recorded time kept, a zero hash per event): what the chain costs.
  "no chain": {
    sql: oneLine(`CREATE OR REPLACE FUNCTION append_chain_columns(
        p_prev bytea, p_stream_id text, p_first_version integer,
        p_ids uuid[], p_types text[], p_event_versions integer[], p_data jsonb, p_metadata jsonb,
        p_occurred timestamptz[], p_users text[], p_correlations text[], p_causations text[],
        OUT at timestamptz, OUT hashes bytea[]) LANGUAGE plpgsql VOLATILE AS $$
      BEGIN
        at := date_trunc('milliseconds', clock_timestamp());
        hashes := array_fill('\\x00'::bytea, ARRAY[cardinality(p_ids)]);
      END $$;`),
    script: "function",
  },
  raw: { sql: oneLine(rawDdl), script: "raw" },
};
if (process.env.CALLGRIND_SQL) variants[`extra (${process.env.CALLGRIND_SQL})`] = { sql: oneLine(readFileSync(process.env.CALLGRIND_SQL, "utf8")), script: "function" };

const n = Number(process.env.CALLGRIND_N ?? 300);
const chosen = (process.env.CALLGRIND_VARIANTS ?? Object.keys(variants).join(",")).split(",").filter(Boolean);
for (const name of chosen) if (!(name in variants)) throw new Error(`unknown variant "${name}"; known: ${Object.keys(variants).join(", ")}`);

function pgBin(): string {
  const root = "/usr/lib/postgresql";
  const version = readdirSync(root).sort((a, b) => Number(b) - Number(a))[0];
  if (!version) throw new Error("no PostgreSQL under /usr/lib/postgresql");
  return join(root, version, "bin");
}

const asRoot = process.getuid?.() === 0;
/** A command as the postgres OS user when we are root (the server refuses to run as root). */
function asPostgres(cmd: string, args: string[]): [string, string[]] {
  return asRoot ? ["runuser", ["-u", "postgres", "--", cmd, ...args]] : [cmd, args];
}
function run(cmd: string, args: string[], input?: string): string {
  const [c, a] = asPostgres(cmd, args);
  return execFileSync(c, a, { input, encoding: "utf8", stdio: ["pipe", "pipe", "pipe"], maxBuffer: 64 * 1024 * 1024 });
}

const literal = (value: string | number | null) => (value === null ? "NULL" : typeof value === "number" ? String(value) : pg.Client.prototype.escapeLiteral(value));

/** An array literal of text elements (NULL for null). */
const textArray = (values: (string | null)[]) => `{${values.map((v) => (v === null ? "NULL" : `"${v.replace(/[\\"]/g, (c) => `\\${c}`)}"`)).join(",")}}`;

/** The appends every variant makes: a new stream every 20 appends of 5 events. */
function appends(count: number): { stream: string; version: number; events: NewEvent[] }[] {
  const out: { stream: string; version: number; events: NewEvent[] }[] = [];
  let stream = newStreamId();
  let version = 0;
  for (let i = 0; i < count; i++) {
    if (version + 5 > 100) {
      stream = newStreamId();
      version = 0;
    }
    out.push({ stream, version, events: batchFor(stream, version, 5) });
    version += 5;
  }
  return out;
}

const functionCasts = ["text", "text", "integer", "uuid[]", "text[]", "integer[]", "jsonb", "jsonb", "timestamptz[]", "text[]", "text[]", "text[]"];

/** The appends as literal statements, one a line (single-user mode ends a statement at a newline). */
function script(kind: Variant["script"], batches: ReturnType<typeof appends>): string {
  const lines =
    kind === "raw"
      ? [`PREPARE raw_create AS ${oneLine(createStream)};`, `PREPARE raw_append AS ${oneLine(appendStream)};`]
      : [`PREPARE ours (${functionCasts.join(", ")}) AS SELECT * FROM append_to_stream(${functionCasts.map((_, j) => `$${j + 1}`).join(", ")});`];
  for (const { stream, version, events } of batches) {
    if (kind === "function") {
      const args = [stream, "patient", version === 0 ? -2 : version, ...encodeColumns(benchRegistry, events)];
      lines.push(`EXECUTE ours(${args.map(literal).join(", ")});`);
    } else {
      const args = [literal(stream), literal(aggregateType), String(events.length), ...rawColumns(events).map((column) => literal(textArray(column)))];
      lines.push(version === 0 ? `EXECUTE raw_create(${args.join(", ")});` : `EXECUTE raw_append(${[...args, String(version)].join(", ")});`);
    }
  }
  return `${lines.join("\n")}\n`;
}

function instructions(outFile: string): number {
  const text = readFileSync(outFile, "utf8");
  const m = /^(?:summary|totals):\s+(\d+)/m.exec(text);
  if (!m) throw new Error(`no totals in ${outFile}`);
  return Number(m[1]);
}

async function main() {
  for (const tool of ["valgrind", "runuser"]) {
    if (tool === "runuser" && !asRoot) continue;
    if (spawnSync("which", [tool]).status !== 0) throw new Error(`${tool} is not installed`);
  }
  const bin = pgBin();
  const work = mkdtempSync(join(tmpdir(), "emr-callgrind-"));
  chmodSync(work, 0o777);
  const base = join(work, "base");
  const port = 55000 + Math.floor(Math.random() * 1000);
  try {
    run(join(bin, "initdb"), ["-D", base, "-U", "postgres", "-A", "trust", "--no-sync"]);
    // -l: the server's output to a file, or it would hold this process's pipes open.
    run(join(bin, "pg_ctl"), ["-D", base, "-l", join(work, "server.log"), "-o", `-p ${port} -k ${work} -c listen_addresses=''`, "-w", "start"]);
    try {
      const url = `postgresql://postgres@/postgres?host=${encodeURIComponent(work)}&port=${port}`;
      const admin = new pg.Client({ connectionString: url });
      await admin.connect();
      await admin.query("CREATE DATABASE emr");
      await admin.end();
      const dbUrl = url.replace("/postgres?", "/emr?");
      const db = await openDatabase({ url: dbUrl, poolMax: 1 });
      await migrate(db);
      await db.close();
    } finally {
      run(join(bin, "pg_ctl"), ["-D", base, "-w", "stop"]);
    }
    // The same appends for every variant; the large run's first half is the small run.
    const batches = appends(2 * n);
    const scripts = (kind: Variant["script"]) => ({ small: script(kind, batches.slice(0, n)), large: script(kind, batches) });

    const results: { name: string; perAppend: number }[] = [];
    for (const name of chosen) {
      const counts: number[] = [];
      for (const [size, text] of Object.entries(scripts(variants[name]!.script))) {
        const dir = join(work, `data-${name.replace(/\W+/g, "-")}-${size}`);
        cpSync(base, dir, { recursive: true });
        if (asRoot) execFileSync("chown", ["-R", "postgres:postgres", dir]);
        const setup = variants[name]!.sql;
        if (setup) {
          const [cmd, args] = asPostgres(join(bin, "postgres"), ["--single", "-D", dir, "emr"]);
          const done = spawnSync(cmd, args, { input: `${setup}\n`, encoding: "utf8" });
          if (done.status !== 0 || /ERROR:/.test(done.stdout + done.stderr)) throw new Error(`${name}'s setup failed: ${(done.stdout + done.stderr).slice(-1000)}`);
        }
        const out = join(work, `callgrind-${name.replace(/\W+/g, "-")}-${size}.out`);
        const [cmd, args] = asPostgres("valgrind", [
          "--tool=callgrind",
          `--callgrind-out-file=${out}`,
          // Only the statements' execution (parameters' input functions included, as a prepared
          // statement's are): not reading the script a character at a time, nor lexing it.
          "--toggle-collect=PortalRun",
          join(bin, "postgres"),
          "--single",
          "-D",
          dir,
          "-c",
          "fsync=off",
          "emr",
        ]);
        const started = Date.now();
        const result = spawnSync(cmd, args, { input: text, encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
        if (result.status !== 0 || !existsSync(out)) throw new Error(`callgrind run failed (${result.status}): ${result.stderr.slice(-2000)}`);
        const errors = /ERROR:[^\n]*/.exec(result.stdout + result.stderr);
        if (errors) throw new Error(`an append failed under ${name}: ${errors[0]}`);
        counts.push(instructions(out));
        if (process.env.CALLGRIND_KEEP) cpSync(out, join(process.env.CALLGRIND_KEEP, `callgrind-${name.replace(/\W+/g, "-")}-${size}.out`));
        console.error(`  ${name}, ${size}: ${counts.at(-1)!.toLocaleString("en-US")} instructions (${((Date.now() - started) / 1000).toFixed(0)} s)`);
        rmSync(dir, { recursive: true, force: true });
      }
      results.push({ name, perAppend: (counts[1]! - counts[0]!) / n });
    }
    const reference = results[0]!.perAppend;
    console.log(`\nappend_to_stream, 5 events, server instructions per append (callgrind, difference of ${2 * n} and ${n} appends)`);
    console.log(`  ${"variant".padEnd(20)} ${"instructions".padStart(14)} ${"vs first".padStart(9)}`);
    for (const r of results) {
      console.log(`  ${r.name.padEnd(20)} ${Math.round(r.perAppend).toLocaleString("en-US").padStart(14)} ${`${((r.perAppend / reference - 1) * 100).toFixed(2)}%`.padStart(9)}`);
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
