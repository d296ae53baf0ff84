// The first burst after a quiet spell (bench row 9): `npx tsx bench/diagnoseIdle.ts`.
//
// Starts the console's server (server/cli/serve.ts, as row 9 does) on a fresh bench database,
// signs in, and offers patient.register at a fixed rate (paced as row 9 paces it) for a few
// seconds after each of a list of idle spells, printing each burst's p50 and p99 with the
// number of the database's backends before and after the spell. Round seven found with it that
// the app's pool closed its idle connections after pg's default 10 s, and that the burst after
// them paid for up to DB_POOL_MAX cold backends at once (bench/README.md).
//
//   --rate=N        offered requests/s (default 60)
//   --seconds=N     each burst (default 2.5)
//   --idle=A,B,...  idle spells in seconds, in order (default 1,4,8,12,15,4,12)
//   --local         call the procedure in this process (createCaller) instead of over HTTP
//   --node=ARGS     node options for the server, space-separated (e.g. "--no-flush-bytecode")
//   --env=K=V,...   more environment for the server (e.g. DB_POOL_IDLE_SECONDS=10)
import pg from "pg";
import { openDatabase } from "../server/db/client";
import { migrate } from "../server/db/migrate";
import { createBenchDatabases } from "./lib/database";
import { appEnv, callerFor, cookieJar, overHttpWith, paced, registerInput, seedClinician, signIn, startApp, type HttpCall, type Side } from "./workloads/http";

const args = new Map(process.argv.slice(2).map((a) => a.replace(/^--/, "").split(/=(.*)/s, 2) as [string, string | undefined]));
const rate = Number(args.get("rate") ?? 60);
const seconds = Number(args.get("seconds") ?? 2.5);
const idles = (args.get("idle") ?? "1,4,8,12,15,4,12").split(",").map(Number);
const nodeArgs = (args.get("node") ?? "").split(" ").filter(Boolean);
const extraEnv = Object.fromEntries((args.get("env") ?? "").split(",").filter(Boolean).map((kv) => kv.split(/=(.*)/s, 2) as [string, string]));
const connections = 8;

async function main() {
  const base = process.env.DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/postgres";
  const dbs = await createBenchDatabases(base);
  const db = await openDatabase({ url: dbs.oursUrl, poolMax: connections });
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  const dbName = new URL(dbs.oursUrl).pathname.slice(1);
  const backends = async () =>
    Number((await admin.query<{ n: string }>("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1", [dbName])).rows[0]!.n);
  let stop = async () => {};
  try {
    await migrate(db);
    const env = { ...appEnv(dbs.oursUrl, connections), ...extraEnv };
    const credentials = await seedClinician(db, env);
    let side: (rate: number) => Side;
    if (args.has("local")) {
      const account = await db.prisma.user.findUniqueOrThrow({ where: { email: credentials.email }, select: { id: true, name: true } });
      const caller = await callerFor(db, { id: account.id, email: credentials.email, name: account.name, roles: ["clinician"] });
      side = (r) => paced(() => caller.patient.register(registerInput() as never), connections, r);
    } else {
      const app = await startApp(env, nodeArgs);
      stop = app.stop;
      const jar = cookieJar(await signIn(app.base, credentials));
      const call = (): HttpCall => ({
        method: "POST",
        path: "/api/trpc/patient.register",
        headers: { "content-type": "application/json", origin: app.base, cookie: jar.cookieOf() },
        body: JSON.stringify({ json: registerInput() }),
      });
      side = overHttpWith(app.base, call, connections, jar);
    }
    await side(rate)(3);
    console.log(`patient.register at ${rate}/s offered, ${seconds} s after each idle spell (${args.has("local") ? "in-process" : "over HTTP"})`);
    for (const idle of idles) {
      const before = await backends();
      await new Promise((r) => setTimeout(r, idle * 1000));
      const after = await backends();
      const load = await side(rate)(seconds);
      console.log(`  idle ${String(idle).padStart(3)} s  backends ${before} -> ${after}  p50 ${load.p50.toFixed(1)} ms  p99 ${load.p99.toFixed(1)} ms  (${load.requests} requests)`);
    }
  } finally {
    await stop();
    await admin.end();
    await db.close();
    await dbs.drop();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
