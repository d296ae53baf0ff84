// Where a request's CPU goes over HTTP (bench row 9): `npx tsx bench/diagnoseHttp.ts`.
//
// Starts the console's server (server/cli/serve.ts) on a fresh bench database (as row 9 does) and drives GET /api/ping,
// system.health, patient.register and patient.byId at a fixed offered rate (paced as row 9 paces it),
// then the same procedures in-process (createCaller). Per request it reports CPU milliseconds
// of the app process (/proc/<pid>/stat, all its threads), of the database's PostgreSQL backends,
// and of this process (the load generator, or the in-process side), and the queries sent
// (`pg` counted in both processes: bench/lib/queryCounter.cjs). CPU per request survives the
// load of a shared machine far better than requests/s does. Rounds alternate the sides.
//
//   --seconds=N     each measurement (default 6)
//   --rounds=N      alternating rounds (default 3; the first is also reported)
//   --rate=N        offered requests/s for every HTTP side (default 200; 0 = as fast as it goes)
//   --dir=A,B       compare the builds in these project directories (each with its own .next),
//                   alternating between them; default the current directory
//   --only=ping,health,register,byId
//   --statements    print the app's statements (count by first words) before each HTTP measurement's line
//   --cpu-prof=DIR  start the (first) app with --cpu-prof into DIR (written when it stops)
//
// Each HTTP line also says what the app saw of the same requests (its /api/metrics, scraped
// before and after): calls whose procedure took over 25 ms inside the app ("app>25ms", from
// emr_trpc_request_duration_seconds), the app's longest event-loop delay ("loop") and GC pause
// ("gc"); and "self loop": this process's longest event-loop delay. A p99 over 25 ms that the
// app's own timings do not show was spent outside the procedure: in the app's event loop, its
// HTTP parsing, or the load generator.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, resolve } from "node:path";
import { randomUUID } from "node:crypto";
import pg from "pg";
import { openDatabase } from "../server/db/client";
import { migrate } from "../server/db/migrate";
import { announceAppends } from "../server/workers/wakeup";
import { createBenchDatabases } from "./lib/database";
import { appEnv, callerFor, cookieJar, overHttpWith, paced, registerInput, seedClinician, signIn, startApp, type App, type HttpCall } from "./workloads/http";

const require = createRequire(import.meta.url);
const queryCounter = require("./lib/queryCounter.cjs") as { counts: { total: number; byStatement: Record<string, number> } };

const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, "").split("=") as [string, string]));
const seconds = Number(args.get("seconds") ?? 6);
const rounds = Number(args.get("rounds") ?? 3);
const rate = Number(args.get("rate") ?? 200);
const dirs = (args.get("dir") ?? process.cwd()).split(",").map((d) => resolve(d));
const only = new Set((args.get("only") ?? "ping,health,register,byId").split(","));
const cpuProf = args.get("cpu-prof");
const connections = 8;
const poolMax = 8;

const TICK_MS = 1000 / 100; // USER_HZ
function procCpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS;
  } catch {
    return 0;
  }
}
const selfCpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

type Counted = {
  requests: number;
  appMs: number;
  pgMs: number;
  selfMs: number;
  queries: number;
  p50: number;
  p99: number;
  failures: number;
  server?: ServerSaw;
  selfLoopMaxMs?: number;
};
type ServerSaw = { slowCalls: number; calls: number; loopMaxMs: number; gcMaxBucketMs: number };

const METRICS_TOKEN = randomUUID();
/** The app's metrics as name{labels} → value (Prometheus text). */
async function scrape(base: string): Promise<Map<string, number>> {
  const res = await fetch(`${base}/api/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  if (!res.ok) throw new Error(`/api/metrics answered ${res.status}`);
  const values = new Map<string, number>();
  for (const line of (await res.text()).split("\n")) {
    const m = /^([a-z_]+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (m) values.set(m[1]!, Number(m[2]));
  }
  return values;
}
/** What the app saw between two scrapes: procedure calls over 25 ms, its longest event-loop delay and GC pause. */
function serverSaw(before: Map<string, number>, after: Map<string, number>): ServerSaw {
  const sum = (values: Map<string, number>, test: (key: string) => boolean) => [...values].filter(([k]) => test(k)).reduce((n, [, v]) => n + v, 0);
  const delta = (test: (key: string) => boolean) => sum(after, test) - sum(before, test);
  const calls = delta((k) => k.startsWith("emr_trpc_request_duration_seconds_count"));
  const fast = delta((k) => k.startsWith("emr_trpc_request_duration_seconds_bucket") && k.includes('le="0.025"'));
  // GC: the smallest bucket bound that holds every pause seen between the scrapes.
  const gcBounds = [...after.keys()].filter((k) => k.startsWith("nodejs_gc_duration_seconds_bucket")).map((k) => Number(/le="([^"]+)"/.exec(k)?.[1]));
  let gcMaxBucketMs = 0;
  for (const bound of [...new Set(gcBounds)].filter(Number.isFinite).sort((a, b) => a - b)) {
    const under = delta((k) => k.startsWith("nodejs_gc_duration_seconds_bucket") && k.includes(`le="${bound}"`));
    const all = delta((k) => k.startsWith("nodejs_gc_duration_seconds_count"));
    if (under >= all) {
      gcMaxBucketMs = bound * 1000;
      break;
    }
  }
  return { slowCalls: calls - fast, calls, loopMaxMs: (after.get("nodejs_eventloop_lag_max_seconds") ?? NaN) * 1000, gcMaxBucketMs };
}

async function main() {
  const base = process.env.DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";
  const dbs = await createBenchDatabases(base);
  const db = await openDatabase({ url: dbs.oursUrl, poolMax });
  const apps: { dir: string; app: App; countFile: string }[] = [];
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  const dbName = new URL(dbs.oursUrl).pathname.slice(1);
  // The database's backends come and go (pools replace idle connections): each backend's CPU is
  // counted from when it was first seen, or from its start when it is new; one that ended is lost.
  const pgSeen = new Map<number, number>();
  const pgMs = async () => {
    const { rows } = await admin.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", [dbName]);
    let total = 0;
    for (const { pid } of rows) {
      const cpu = procCpuMs(pid);
      total += cpu - (pgSeen.get(pid) ?? 0);
      pgSeen.set(pid, cpu);
    }
    return total;
  };
  try {
    await migrate(db);
    const env = { ...appEnv(dbs.oursUrl, poolMax), METRICS_TOKEN };
    const credentials = await seedClinician(db, env);
    for (const [i, dir] of dirs.entries()) {
      const countFile = `/tmp/diagnose-http-${process.pid}-${i}.json`;
      const nodeArgs = ["--require", join(import.meta.dirname, "lib", "queryCounter.cjs")];
      if (cpuProf && i === 0) nodeArgs.push("--cpu-prof", `--cpu-prof-dir=${cpuProf}`);
      const app = await startApp({ ...env, QUERY_COUNT_FILE: countFile }, nodeArgs, dir);
      apps.push({ dir, app, countFile });
    }
    const statements = args.has("statements");
    let lastByStatement: Record<string, number> = {};
    type Counts = { dumps: number; total: number; byStatement: Record<string, number> };
    const dumps = new Map<string, number>();
    const appQueries = async (a: (typeof apps)[number]) => {
      a.app.child.kill("SIGUSR2");
      // The app writes the file when it gets to the signal: wait for this very dump.
      let counts: Counts | null = null;
      for (const deadline = Date.now() + 10_000; Date.now() < deadline; ) {
        await new Promise((r) => setTimeout(r, 50));
        try {
          const read = JSON.parse(readFileSync(a.countFile, "utf8")) as Counts;
          if (read.dumps > (dumps.get(a.countFile) ?? 0)) {
            counts = read;
            break;
          }
        } catch {
          // not written yet, or being written
        }
      }
      if (!counts) throw new Error(`the app wrote no query counts to ${a.countFile}`);
      dumps.set(a.countFile, counts.dumps);
      if (statements) {
        for (const [text, n] of Object.entries(counts.byStatement)) if (n !== (lastByStatement[text] ?? 0)) console.log(`    ${String(n - (lastByStatement[text] ?? 0)).padStart(6)} ${text}`);
        lastByStatement = counts.byStatement;
      }
      return counts.total;
    };
    const local = await openDatabase({ url: dbs.oursUrl, poolMax });
    announceAppends(local);
    const account = await db.prisma.user.findUniqueOrThrow({ where: { email: credentials.email }, select: { id: true, name: true } });
    const user = { id: account.id, email: credentials.email, name: account.name, roles: ["clinician"] };
    const caller = await callerFor(local, user);
    const anonymous = await callerFor(local, null);
    const { patientId } = await caller.patient.register(registerInput() as never);

    const sessions = await Promise.all(apps.map(async (a) => cookieJar(await signIn(a.app.base, credentials))));

    type Target = { name: string; http: (a: App, i: number) => HttpCall; signedIn: boolean; local: (() => Promise<unknown>) | null };
    const allTargets: Target[] = [
      { name: "ping", http: () => ({ method: "GET", path: "/api/ping", headers: {} }), signedIn: false, local: null },
      { name: "health", http: () => ({ method: "GET", path: "/api/trpc/system.health", headers: {} }), signedIn: false, local: () => anonymous.system.health() },
      {
        name: "register",
        http: (a, i) => ({
          method: "POST",
          path: "/api/trpc/patient.register",
          headers: { "content-type": "application/json", origin: a.base, cookie: sessions[i]!.cookieOf() },
          body: JSON.stringify({ json: registerInput() }),
        }),
        signedIn: true,
        local: () => caller.patient.register(registerInput() as never),
      },
      {
        name: "byId",
        http: (_a, i) => ({
          method: "GET",
          path: `/api/trpc/patient.byId?input=${encodeURIComponent(JSON.stringify({ json: { patientId, viewId: randomUUID() } }))}`,
          headers: { cookie: sessions[i]!.cookieOf() },
        }),
        signedIn: true,
        local: () => caller.patient.byId({ patientId, viewId: randomUUID() }),
      },
    ];
    const targets = allTargets.filter((t) => only.has(t.name));

    // Saturated (rate 0): autocannon. At a rate: both sides paced by the bench alike (workloads/http.ts).
    const overHttp = async (target: Target, i: number, duration: number): Promise<Counted> => {
      const a = apps[i]!;
      const q0 = await appQueries(a);
      // The scrape also resets the app's event-loop delay figures (prom-client), so the next one covers this load.
      const scraped0 = await scrape(a.app.base);
      const [app0, self0] = [procCpuMs(a.app.child.pid!), selfCpuMs()];
      await pgMs();
      const load = await overHttpWith(a.app.base, () => target.http(a.app, i), connections, target.signedIn ? sessions[i] : undefined)(rate > 0 ? rate : undefined)(duration);
      const [app1, pgUsed, self1] = [procCpuMs(a.app.child.pid!), await pgMs(), selfCpuMs()];
      const server = serverSaw(scraped0, await scrape(a.app.base));
      const q1 = await appQueries(a);
      return { requests: load.requests, appMs: app1 - app0, pgMs: pgUsed, selfMs: self1 - self0, queries: q1 - q0, p50: load.p50, p99: load.p99, failures: load.failures, server, selfLoopMaxMs: load.stalls?.loopMaxMs };
    };
    const inProcess = async (call: () => Promise<unknown>, duration: number): Promise<Counted> => {
      const q0 = queryCounter.counts.total;
      await pgMs();
      const self0 = selfCpuMs();
      const load = await paced(call, connections, rate > 0 ? rate : undefined)(duration);
      const [pgUsed, self1] = [await pgMs(), selfCpuMs()];
      return { requests: load.requests, appMs: 0, pgMs: pgUsed, selfMs: self1 - self0, queries: queryCounter.counts.total - q0, p50: load.p50, p99: load.p99, failures: load.failures, selfLoopMaxMs: load.stalls?.loopMaxMs };
    };

    const fmt = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : "-");
    const line = (label: string, c: Counted, elapsed: number) =>
      `${label.padEnd(34)} ${String(c.requests).padStart(6)} req ${fmt(c.requests / elapsed).padStart(8)}/s  app ${fmt(c.appMs / c.requests).padStart(6)}  pg ${fmt(c.pgMs / c.requests).padStart(6)}  self ${fmt(c.selfMs / c.requests).padStart(6)} ms/req  queries/req ${fmt(c.queries / c.requests).padStart(5)}  p50 ${fmt(c.p50)} p99 ${fmt(c.p99)} ms${
        c.server ? `  app>25ms ${c.server.slowCalls}/${c.server.calls} loop ${fmt(c.server.loopMaxMs)} gc≤${fmt(c.server.gcMaxBucketMs)}` : ""
      }${c.selfLoopMaxMs !== undefined ? `  self loop ${fmt(c.selfLoopMaxMs)}` : ""}${c.failures ? `  FAILED ${c.failures}` : ""}`;

    // Warm-up: every side once, briefly.
    for (const target of targets) {
      for (let i = 0; i < apps.length; i++) await overHttp(target, i, 2);
      if (target.local) await inProcess(target.local, 2);
    }
    console.log(`rate ${rate || "unlimited"}/s, ${connections} connections, ${seconds} s each, ${rounds} rounds; load ${(await import("node:os")).loadavg().map((l) => l.toFixed(1)).join(" ")}`);
    for (let r = 0; r < rounds; r++) {
      for (const target of targets) {
        const order = [...apps.keys()].map((i) => ({ label: `${target.name} http ${dirs.length > 1 ? dirs[i]!.split("/").pop() : ""}`, run: () => overHttp(target, i, seconds) }));
        if (target.local) order.push({ label: `${target.name} in-process`, run: () => inProcess(target.local!, seconds) });
        const rotated = order.map((_, k) => order[(k + r) % order.length]!);
        for (const side of rotated) {
          const t0 = performance.now();
          const c = await side.run();
          console.log(line(`r${r} ${side.label}`, c, (performance.now() - t0) / 1000));
        }
      }
      console.log(`  load ${(await import("node:os")).loadavg().map((l) => l.toFixed(1)).join(" ")}`);
    }
    await local.close();
  } finally {
    await admin.end();
    for (const a of apps) await a.app.stop();
    await db.close();
    await dbs.drop();
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
