// 9. Over HTTP: autocannon against the console's server (server/cli/serve.ts, as npm start runs
// it: Next on the production build, the tRPC endpoint without Next's router) serving the app
// from the bench's database. A query procedure (system.health, GET) and a command procedure
// (patient.register, POST with a signed-in clinician's session cookie). Beside each, the same
// procedure called in-process through createCaller with the same concurrency (the "raw" column
// here), so the ratio is the transport's overhead: HTTP, tRPC's fetch adapter, superjson, the session.
// The signed-in procedures are measured twice: saturated (8 connections as fast as they go: the
// requests/s line) and at a fixed offered rate below saturation, the same for both sides (the
// p99 line: a request's latency on a half-busy server, without the queue a saturated one makes).
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { existsSync, statSync } from "node:fs";
import { Agent, request as httpRequest } from "node:http";
import { monitorEventLoopDelay, PerformanceObserver } from "node:perf_hooks";
import net from "node:net";
import { join } from "node:path";
import autocannon from "autocannon";
import { buildIsCurrent, nextBin, serverArgs } from "../../server/cli/build";
import { openDatabase, type Database } from "../../server/db/client";
import { announceAppends } from "../../server/workers/wakeup";
import { onCleanup } from "../lib/cleanup";
import { now, percentile, round3, side } from "../lib/stats";
import type { BenchContext, Figure, Workload } from "../lib/types";
import { env as settings } from "../../server/db/env";
import { resolveMasterKeyText } from "../../server/db/phiKey";

const workload = "9. over HTTP";
const buildId = join(process.cwd(), ".next", "BUILD_ID");

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export type App = { base: string; child: ChildProcess; output: () => string; stop: () => Promise<void> };

/**
 * The console's server as npm start runs it (server/cli/serve.ts: Next on the build, the tRPC
 * endpoint without Next's router) on a free port, the build in `dir` (default: this project),
 * with `nodeArgs` for node itself.
 */
export async function startApp(env: NodeJS.ProcessEnv, nodeArgs: string[] = [], dir = process.cwd()): Promise<App> {
  const port = await freePort();
  const child = spawn(process.execPath, [...nodeArgs, ...serverArgs(port, "127.0.0.1", dir)], {
    cwd: dir,
    env: { ...env, PORT: String(port) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let tail = "";
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-4000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
    await exited;
    clearTimeout(timer);
  };
  const unregister = onCleanup("the console's server", stop);
  const app: App = {
    base: `http://127.0.0.1:${port}`,
    child,
    output: () => tail,
    stop: async () => {
      unregister();
      await stop();
    },
  };
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the console's server exited (${child.exitCode}):\n${tail}`);
    try {
      const res = await fetch(`${app.base}/api/trpc/system.health`);
      if (res.ok) return app;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await app.stop();
      throw new Error(`the console's server did not answer system.health within 90 s:\n${tail}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

export type Load = {
  perSecond: number;
  p50: number;
  p99: number;
  failures: number;
  requests: number;
  seconds: number;
  /** The bench process during a paced measurement: its longest event-loop delay and GC pause (ms). */
  stalls?: BenchStalls;
};
export type BenchStalls = { loopMaxMs: number; gcMaxMs: number };

/**
 * What the bench process itself did to the latencies it times: both sides of a paced measurement
 * are timed here (and the in-process side runs here), so an event-loop stall or a GC pause in this
 * process lands in every call in flight, on either side.
 */
function watchStalls(): () => BenchStalls {
  const loop = monitorEventLoopDelay({ resolution: 5 });
  let gcMaxMs = 0;
  const gc = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) gcMaxMs = Math.max(gcMaxMs, entry.duration);
  });
  loop.enable();
  gc.observe({ entryTypes: ["gc"] });
  return () => {
    loop.disable();
    gc.disconnect();
    return { loopMaxMs: loop.max / 1e6, gcMaxMs };
  };
}

/** One side of a comparison: runs for some seconds and says what it served. */
export type Side = (seconds: number) => Promise<Load>;

/** autocannon's side: the connections as fast as they go (saturated). */
function overHttp(options: autocannon.Options): Side {
  return async (seconds) => {
    const result = await autocannon({ ...options, duration: seconds });
    const { total } = result.requests;
    return { perSecond: total / result.duration, p50: result.latency.p50, p99: result.latency.p99, failures: result.non2xx + result.errors, requests: total, seconds: result.duration };
  };
}

/**
 * `connections` callers of `call`, each calling again as soon as its call returns, or with
 * `rate`, each starting a call every connections/rate seconds, staggered so that together they
 * start one every 1/rate seconds: a caller whose call overruns its slot starts the next one at
 * once, and the latency is timed from the call's start.
 */
export function paced(call: () => Promise<unknown>, connections: number, rate?: number): Side {
  return async (duration) => {
    const samples: number[] = [];
    let failures = 0;
    const start = now();
    const end = start + duration * 1000;
    const interval = rate ? (connections * 1000) / rate : 0;
    const stalls = rate ? watchStalls() : null;
    const ms = await side(connections, async (index) => {
      let slot = start + (interval * index) / connections;
      while (now() < end) {
        if (interval > 0) {
          const wait = slot - now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
          slot = Math.max(slot + interval, now());
          if (now() >= end) break;
        }
        const t0 = now();
        try {
          await call();
          samples.push(now() - t0);
        } catch {
          failures++;
        }
      }
    });
    const at = (p: number) => (samples.length ? percentile(samples, p) : NaN);
    return { perSecond: samples.length / (ms / 1000), p50: at(50), p99: at(99), failures, requests: samples.length, seconds: ms / 1000, ...(stalls ? { stalls: stalls() } : {}) };
  };
}

/** The in-process side: the procedure called through createCaller by `connections` callers (paced with `rate`). */
const inProcess = paced;

export type HttpCall = { method: "GET" | "POST"; path: string; headers: Record<string, string>; body?: string };
type Jar = ReturnType<typeof cookieJar>;

/**
 * The HTTP side at a fixed offered rate: the same pacing as the in-process side (paced), each
 * call a request on one of `connections` kept-alive sockets, timed from its start to the last
 * byte of the answer. Not autocannon's overallRate: that gives each connection a quota per
 * second and sends it back to back from the start of the second, so the requests arrive in a
 * burst at full speed once a second and the p99 measured is the burst's queue (at 150 req/s a
 * bare route's p50 was 4-5 ms there against ~2 ms paced).
 */
function pacedHttp(base: string, make: () => HttpCall, connections: number, rate: number, jar?: Jar): Side {
  return async (seconds) => {
    const agent = new Agent({ keepAlive: true, maxSockets: connections });
    const url = new URL(base);
    const call = () =>
      new Promise<void>((resolve, reject) => {
        const { method, path, headers, body } = make();
        const req = httpRequest({ agent, host: url.hostname, port: url.port, method, path, headers: body ? { ...headers, "content-length": String(Buffer.byteLength(body)) } : headers }, (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            const status = res.statusCode ?? 0;
            jar?.onResponse(status, "", null, res.headers as Record<string, string | string[]>);
            if (status >= 200 && status < 300) resolve();
            else reject(new Error(`${method} ${path} answered ${status}: ${Buffer.concat(chunks).toString().slice(0, 200)}`));
          });
          res.on("error", reject);
        });
        req.on("error", reject);
        req.end(body);
      });
    try {
      return await paced(call, connections, rate)(seconds);
    } finally {
      agent.destroy();
    }
  };
}

/**
 * A procedure's HTTP side: saturated (no rate) through autocannon, as the ceiling is measured;
 * at an offered rate through pacedHttp. The jar takes what each answer sets.
 */
export function overHttpWith(base: string, make: () => HttpCall, connections: number, jar?: Jar) {
  return (rate?: number): Side =>
    rate
      ? pacedHttp(base, make, connections, rate, jar)
      : overHttp({
          url: base,
          connections,
          requests: [{ setupRequest: (req) => ({ ...req, ...make() }), ...(jar ? { onResponse: jar.onResponse as never } : {}) }],
        });
}

/** Rounds as one load: requests/s over all of them, p50 and p99 the worst round's. */
function combined(loads: Load[]): Load {
  const requests = loads.reduce((n, l) => n + l.requests, 0);
  const seconds = loads.reduce((n, l) => n + l.seconds, 0);
  return {
    perSecond: requests / seconds,
    p50: Math.max(...loads.map((l) => l.p50)),
    p99: Math.max(...loads.map((l) => l.p99)),
    failures: loads.reduce((n, l) => n + l.failures, 0),
    requests,
    seconds,
    ...(loads.some((l) => l.stalls)
      ? { stalls: { loopMaxMs: Math.max(...loads.map((l) => l.stalls?.loopMaxMs ?? 0)), gcMaxMs: Math.max(...loads.map((l) => l.stalls?.gcMaxMs ?? 0)) } }
      : {}),
  };
}

type HttpSizes = BenchContext["sizes"]["http"];

async function alone(run: Side, { warmupSeconds, seconds, rounds }: HttpSizes): Promise<Load> {
  if (warmupSeconds > 0) await run(warmupSeconds);
  const loads: Load[] = [];
  for (let i = 0; i < rounds; i++) loads.push(await run(seconds / rounds));
  return combined(loads);
}

/**
 * HTTP and in-process in alternating rounds (HTTP first, then in-process first, and so on) after
 * a warm-up of each, so both sides meet the same moments of a shared machine's load.
 */
async function paired(http: Side, local: (() => Promise<Side>) | null, { warmupSeconds, seconds, rounds }: HttpSizes): Promise<{ http: Load; local: Load | null; error: string }> {
  let localSide: Side | null = null;
  let error = "";
  const attempt = async (run: (s: Side) => Promise<Load>): Promise<Load | null> => {
    if (!localSide) return null;
    try {
      return await run(localSide);
    } catch (e) {
      error = `; in-process call failed: ${(e as Error).message}`;
      localSide = null;
      return null;
    }
  };
  try {
    localSide = local ? await local() : null;
  } catch (e) {
    error = `; in-process call failed: ${(e as Error).message}`;
  }
  if (warmupSeconds > 0) {
    await http(warmupSeconds);
    await attempt((s) => s(warmupSeconds));
  }
  const httpLoads: Load[] = [];
  const localLoads: Load[] = [];
  const round = seconds / rounds;
  for (let i = 0; i < rounds; i++) {
    const runLocal = async () => {
      const load = await attempt((s) => s(round));
      if (load) localLoads.push(load);
    };
    if (i % 2 === 1) await runLocal();
    httpLoads.push(await http(round));
    if (i % 2 === 0) await runLocal();
  }
  return { http: combined(httpLoads), local: localSide && localLoads.length === rounds ? combined(localLoads) : null, error };
}

/**
 * The lines for signed-in procedures over HTTP (issue: the HTTP path close to in-process). The
 * requests/s line is checked on the saturated measurement; the p99 line on the one at a fixed
 * offered rate below saturation (atRate): at saturation the p99 is the queue that 8 connections
 * make (connections / throughput), which no server can keep under 25 ms once it is saturated.
 */
const signedInLines = {
  rate: { target: "≥ 0.60× in-process", check: ({ ours, raw }: { ours: number; raw: number | null }) => raw !== null && ours >= 0.6 * raw },
  p99: { target: "< 25 ms", check: ({ ours }: { ours: number }) => ours < 25 },
};

/** The share of the HTTP side's saturated requests/s (same run) offered to both sides for the latency measurement. */
export const OFFERED_SHARE = 0.5;

/** The offered rate for a procedure's latency measurement: OFFERED_SHARE of what HTTP sustained saturated, at least 1/s. */
export function offeredRate(saturated: Load): number {
  return Math.max(1, Math.round(saturated.perSecond * OFFERED_SHARE));
}

function figures(name: string, http: Load, local: Load | null, note: string, lines?: Pick<typeof signedInLines, "rate">): Figure[] {
  const failures = http.failures + (local?.failures ?? 0);
  const suffix = failures > 0 ? `; ${http.failures} HTTP and ${local?.failures ?? 0} in-process requests failed` : "";
  return [
    {
      workload: `${workload}: ${name}`,
      metric: "requests/s",
      unit: "req/s",
      ours: http.perSecond,
      raw: local?.perSecond ?? null,
      peer: null,
      target: lines?.rate.target ?? null,
      better: "higher",
      note: note + suffix,
      ...(lines ? { check: lines.rate.check } : {}),
    },
    {
      workload: `${workload}: ${name}`,
      // Saturated: the queue the connections make, shown without a line (atRate has the p99 line).
      metric: "latency p99",
      unit: "ms",
      ours: http.p99,
      raw: local?.p99 ?? null,
      peer: null,
      target: null,
      better: "lower",
    },
  ];
}

/**
 * Latency at a fixed offered rate below saturation, both sides offered the same rate: p50, and
 * p99 with the p99 line. What it measures: a request's service time on a server that is half
 * busy, the queueing of a saturated one left out. Both sides are paced by the bench (paced,
 * pacedHttp): a call every 1/rate seconds, staggered over the connections. Latency is timed from
 * each call's start, so a call that waits behind a late one is not counted from its scheduled time.
 */
function atRateFigures(name: string, rate: number, http: Load, local: Load | null, note: string): Figure[] {
  const failures = http.failures + (local?.failures ?? 0);
  const suffix = failures > 0 ? `; ${http.failures} HTTP and ${local?.failures ?? 0} in-process requests failed` : "";
  const achieved = `served ${Math.round(http.perSecond)}/s over HTTP${local ? `, ${Math.round(local.perSecond)}/s in-process` : ""}`;
  const stall = (l: Load | null) => (l?.stalls ? `event loop delayed up to ${round3(l.stalls.loopMaxMs)} ms, GC pause up to ${round3(l.stalls.gcMaxMs)} ms` : null);
  const stalls = [stall(http) && `HTTP side ${stall(http)}`, stall(local) && `in-process side ${stall(local)}`].filter(Boolean).join("; ");
  const metric = (p: string) => `latency ${p} at ${rate} req/s offered`;
  return [
    {
      workload: `${workload}: ${name}`,
      metric: metric("p50"),
      unit: "ms",
      ours: http.p50,
      raw: local?.p50 ?? null,
      peer: null,
      target: null,
      better: "lower",
      note: `${note}; ${achieved}${stalls ? `; the bench process (which times both sides and runs the in-process one): ${stalls}` : ""}${suffix}`,
    },
    {
      workload: `${workload}: ${name}`,
      metric: metric("p99"),
      unit: "ms",
      ours: http.p99,
      raw: local?.p99 ?? null,
      peer: null,
      target: signedInLines.p99.target,
      better: "lower",
      check: signedInLines.p99.check,
    },
  ];
}

let mrnCounter = 0;
export function registerInput() {
  mrnCounter++;
  const mrn = `B${randomBytes(6).toString("hex").toUpperCase().slice(0, 9)}`;
  return {
    mrn,
    givenName: "Ada",
    familyName: `Bench${mrnCounter}${mrn.slice(1, 5)}`,
    dateOfBirth: "1971-04-12",
    sex: "female",
    email: "ada.bench@example.org",
    phone: "+1 555-0134-2231",
    address: { line1: "12 Elm Street", city: "Springfield", region: "IL", postalCode: "62704", country: "US" },
    commandId: randomUUID(),
  };
}

export type Credentials = { email: string; password: string };

export async function signIn(base: string, credentials: Credentials): Promise<string> {
  const res = await fetch(`${base}/api/auth/sign-in/email`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: base },
    body: JSON.stringify(credentials),
  });
  if (!res.ok) throw new Error(`sign-in at /api/auth/sign-in/email answered ${res.status}`);
  const cookies = res.headers.getSetCookie().map((c) => c.split(";")[0]!);
  if (cookies.length === 0) throw new Error("sign-in set no session cookie");
  return cookies.join("; ");
}

/**
 * A browser's cookie jar, shared by the connections as a browser shares one among its
 * connections: starts with the sign-in's cookies and takes what each response sets (the session
 * cache cookie is refreshed every few seconds), so the requests carry what a browser's would.
 * Not in autocannon's per-connection context: autocannon resets that context before every
 * request when the request list has one entry, so a jar kept there sent the sign-in's cookies
 * forever, and once their cache cookie expired (5 s) every request was a database session look-up.
 */
export function cookieJar(initial: string) {
  const jar = new Map(initial.split("; ").map((c) => [c.slice(0, c.indexOf("=")), c] as const));
  return {
    cookieOf: () => [...jar.values()].join("; "),
    onResponse: (_status: number, _body: string, _context: unknown, headers: Record<string, string | string[]>) => {
      const set = headers["set-cookie"];
      if (!set) return;
      for (const line of Array.isArray(set) ? set : [set]) {
        const pair = line.split(";")[0]!;
        const name = pair.slice(0, pair.indexOf("="));
        if (/max-age=0|expires=thu, 01 jan 1970/i.test(line)) jar.delete(name);
        else jar.set(name, pair);
      }
    },
  };
}

/** The app's environment for this run: the bench database, production, demo users on, the in-process side's pool size. */
export function appEnv(url: string, poolMax: number): NodeJS.ProcessEnv {
  return {
    ...process.env,
    DATABASE_URL: url,
    DB_POOL_MAX: String(poolMax),
    NODE_ENV: "production",
    SEED_DEMO_USERS: "true",
    // A throwaway database: the demo users' published passwords are acceptable here.
    SEED_DEMO_USERS_IN_PRODUCTION: "true",
    BETTER_AUTH_SECRET: process.env.BETTER_AUTH_SECRET ?? randomBytes(32).toString("base64url"),
    // Production requires the master key: the one this bench process seals its patients' data keys with.
    PHI_MASTER_KEY: resolveMasterKeyText(settings()),
  };
}

/** Only the demo users (prisma/seed.ts would also add demo patients: minutes of writes the bench does not need). */
export async function seedClinician(db: Database, env: NodeJS.ProcessEnv): Promise<Credentials> {
  const [demo, { parseEnv }] = await Promise.all([import("../../server/auth/demoUsers"), import("../../server/db/env")]);
  const seeded = await demo.seedDemoUsers(db, parseEnv(env), { log: () => {} });
  if (!seeded.seeded) throw new Error("the demo users were not seeded (SEED_DEMO_USERS)");
  const user = demo.demoUsers.find((u) => u.roles.includes("clinician"));
  if (!user) throw new Error("no demo user has the clinician role");
  return { email: user.email, password: demo.DEMO_PASSWORD };
}

export async function callerFor(db: Database, user: unknown) {
  const [{ createCaller }, { createContext }] = await Promise.all([import("../../server/api/root"), import("../../server/api/context")]);
  const ctx = await createContext({ headers: new Headers(), db, user: user as Parameters<typeof createContext>[0]["user"] });
  return createCaller(ctx);
}

async function waitForBuild(ctx: BenchContext, seconds: number): Promise<boolean> {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    if (existsSync(buildId)) return true;
    ctx.progress.step(`9 HTTP: another next build is running; waiting for it (${Math.ceil((deadline - Date.now()) / 1000)} s left)`);
    await new Promise((r) => setTimeout(r, 5000));
  }
  return existsSync(buildId);
}

async function ensureBuilt(ctx: BenchContext): Promise<string | null> {
  if (existsSync(buildId)) return null;
  if (ctx.mode !== "full") return "no production build (.next/BUILD_ID is missing); the full run builds it, or run npx next build";
  ctx.progress.step("9 HTTP: building the app (npx next build)");
  const build = spawnSync(process.execPath, [nextBin, "build"], { encoding: "utf8", env: { ...process.env, NODE_ENV: "production" } });
  if (build.status === 0) return null;
  const output = build.stdout + build.stderr;
  // Someone else in this working tree is building: use their build when it is done.
  if (/Another next build process is already running/.test(output) && (await waitForBuild(ctx, 240))) return null;
  return `next build failed: ${output.trim().split("\n").slice(-6).join(" / ").slice(0, 500)}`;
}

export const http: Workload = {
  number: 9,
  id: "http",
  title: "over HTTP (autocannon against the console's server)",
  unavailable: (ctx) => (ctx.http ? null : ctx.mode === "smoke" ? "not run in --smoke (no app server)" : "switched off with --no-http"),
  async run(ctx) {
    const notBuilt = await ensureBuilt(ctx);
    if (notBuilt) {
      ctx.unavailable.push({ workload, reason: notBuilt });
      return [];
    }
    const stale = buildIsCurrent() ? "" : `; the build (${statSync(buildId).mtime.toISOString()}) is older than the sources`;
    const { connections, seconds, rounds } = ctx.sizes.http;
    const env = appEnv(ctx.oursUrl, ctx.poolMax);
    let credentials: Credentials | null = null;
    let seedError = "";
    try {
      credentials = await seedClinician(ctx.oursDatabase, env);
    } catch (error) {
      seedError = `seeding the demo users failed: ${(error as Error).message}`;
    }
    ctx.progress.step("9 HTTP: starting the console's server (serve.ts)");
    const app = await startApp(env);
    // The in-process side's own database, as the app opens its own: a pool of the same size, and
    // appends announced as the app announces them (observeProcess: a coalesced NOTIFY after each
    // committed append, for other processes' workers), so both sides do the same database work.
    const localDb = await openDatabase({ url: ctx.oursUrl, poolMax: ctx.poolMax });
    announceAppends(localDb);
    const out: Figure[] = [];
    try {
      const shape = `${connections} connections × ${seconds} s${rounds > 1 ? ` in ${rounds} rounds (with the in-process side: alternating, each going first in turn), p99 the worst round's` : ""}`;
      const atRateShape = (rate: number) =>
        `${rate} requests/s offered to each side (${Math.round(OFFERED_SHARE * 100)}% of what HTTP sustained saturated in this run: below saturation, so the p99 is a request's time on a half-busy server, not the queue of a saturated one; the p99 line is checked here), ${connections} connections × ${seconds} s${rounds > 1 ? ` in ${rounds} alternating rounds, p50 and p99 the worst round's` : ""}; both sides paced alike (a request every 1/rate s, staggered over the connections; not autocannon's overallRate, which sends each second's quota in a burst), latency timed from each request's start`;
      const storeNote = `event store in this run: append of 5 p50 ${round3(ctx.shared.get("append5.p50.ours") ?? NaN)} ms`;

      ctx.progress.step(`9 HTTP: framework ceiling (GET /api/ping), ${connections} connections, ${seconds} s`);
      const ceiling = await alone(overHttp({ url: `${app.base}/api/ping`, connections }), ctx.sizes.http);
      out.push(
        ...figures(
          "framework ceiling, a bare route handler (GET /api/ping)",
          ceiling,
          null,
          `${shape}; app/api/ping answers a constant: no database, session or tRPC, so this is what Next itself costs per request on this machine (the tRPC rows below do not go through Next's router: serve.ts hands them to server/api/direct.ts)`,
        ),
      );
      const sameWork = ` with its own pool of ${ctx.poolMax} (the app's is set to the same) and appends announced as the app's; one cookie jar for the HTTP connections, as one browser's`;
      const ofCeiling = (load: Load) => `; ${Math.round((load.perSecond / ceiling.perSecond) * 100)}% of the framework ceiling's requests/s`;

      ctx.progress.step(`9 HTTP: system.health over HTTP and in-process, ${connections} connections, ${rounds} × ${seconds / rounds} s each`);
      const { http: query, local, error: localNote } = await paired(
        overHttp({ url: `${app.base}/api/trpc/system.health`, connections }),
        async () => {
          const caller = await callerFor(localDb, null);
          return inProcess(() => caller.system.health(), connections);
        },
        ctx.sizes.http,
      );
      out.push(
        ...figures(
          "query system.health (GET)",
          query,
          local,
          `${shape}; raw = the same procedure in-process (createCaller)${sameWork}${localNote}${stale}; ${storeNote}${ofCeiling(query)}`,
        ),
      );

      let cookie: string;
      try {
        if (!credentials) throw new Error(seedError);
        cookie = await signIn(app.base, credentials);
      } catch (error) {
        ctx.unavailable.push({ workload: `${workload}: command patient.register`, reason: `${(error as Error).message}${stale}` });
        return out;
      }
      const probe = await fetch(`${app.base}/api/trpc/patient.register`, {
        method: "POST",
        headers: { "content-type": "application/json", origin: app.base, cookie },
        body: JSON.stringify({ json: registerInput() }),
      });
      if (!probe.ok) {
        const reason = `patient.register answered ${probe.status}: ${(await probe.text()).slice(0, 200)}${stale}`;
        ctx.unavailable.push({ workload: `${workload}: command patient.register`, reason });
        return out;
      }
      const { patientId } = ((await probe.json()) as { result: { data: { json: { patientId: string } } } }).result.data.json;
      const jar = cookieJar(cookie);
      // In-process as the same clinician (the chart reads below need the registering user).
      const account = await ctx.oursDatabase.prisma.user.findUniqueOrThrow({ where: { email: credentials.email }, select: { id: true, name: true } });
      const user = { id: account.id, email: credentials.email, name: account.name, roles: ["clinician"] };
      // A signed-in procedure: saturated (the requests/s line), then at half that rate offered to both sides (the p99 line).
      const signedIn = async (label: string, name: string, note: string, storeSuffix: string, overHttpAt: (rate?: number) => Side, inProcessAt: (rate?: number) => () => Promise<Side>) => {
        ctx.progress.step(`9 HTTP: ${label} over HTTP and in-process, ${connections} connections, ${rounds} × ${seconds / rounds} s each`);
        const saturated = await paired(overHttpAt(), inProcessAt(), ctx.sizes.http);
        out.push(...figures(name, saturated.http, saturated.local, `${shape}, ${note}${saturated.error}${stale}${storeSuffix}${ofCeiling(saturated.http)}`, signedInLines));
        const rate = offeredRate(saturated.http);
        ctx.progress.step(`9 HTTP: ${label} at ${rate} req/s offered, over HTTP and in-process`);
        const atRate = await paired(overHttpAt(rate), inProcessAt(rate), ctx.sizes.http);
        out.push(...atRateFigures(name, rate, atRate.http, atRate.local, `${note}; ${atRateShape(rate)}${atRate.error}`));
      };
      const registerOverHttp = overHttpWith(
        app.base,
        () => ({
          method: "POST",
          path: "/api/trpc/patient.register",
          headers: { "content-type": "application/json", origin: app.base, cookie: jar.cookieOf() },
          body: JSON.stringify({ json: registerInput() }),
        }),
        connections,
        jar,
      );
      const registerInProcess = (rate?: number) => async () => {
        const caller = await callerFor(localDb, user);
        return inProcess(() => caller.patient.register(registerInput() as never), connections, rate);
      };
      await signedIn(
        "patient.register",
        "command patient.register (POST, signed in)",
        `a new patient per request; raw = the same procedure in-process${sameWork}`,
        `; ${storeNote}`,
        registerOverHttp,
        registerInProcess,
      );

      // A realistic read: one chart, signed in, a new screen view each time (one access-log row each).
      const byIdPath = () => `/api/trpc/patient.byId?input=${encodeURIComponent(JSON.stringify({ json: { patientId, viewId: randomUUID() } }))}`;
      const byIdOverHttp = overHttpWith(app.base, () => ({ method: "GET", path: byIdPath(), headers: { cookie: jar.cookieOf() } }), connections, jar);
      const byIdInProcess = (rate?: number) => async () => {
        const caller = await callerFor(localDb, user);
        return inProcess(() => caller.patient.byId({ patientId, viewId: randomUUID() }), connections, rate);
      };
      await signedIn(
        "patient.byId",
        "query patient.byId (GET, signed in, access-log write)",
        `one chart, a new view id per request (an access-log row each); raw = the same procedure in-process${sameWork}`,
        "",
        byIdOverHttp,
        byIdInProcess,
      );
      return out;
    } finally {
      ctx.progress.step("9 HTTP: stopping the console's server");
      await localDb.close();
      await app.stop();
    }
  },
};
