// npm run worker and npm run worker:outbox, spawned as the real processes, end by themselves
// within the shutdown bound after SIGTERM: the worker's LISTEN connection and rollup timer kept
// it alive after "stopped", and the outbox worker hung in amqplib's close handshake with a broker
// that had stopped answering. PostgreSQL (the LISTEN connection is PostgreSQL's) and RabbitMQ.
import { spawn, type ChildProcess } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { createConnection, createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openFreshPostgresDatabase, pgUrl } from "../testing/db";
import { SHUTDOWN_GRACE_MS } from "./shutdown";

const root = resolve(import.meta.dirname, "../..");
const tsxLoader = pathToFileURL(join(root, "node_modules", "tsx", "dist", "loader.mjs")).href;
const amqpUrl = process.env.AMQP_URL?.trim() || null;
const running = new Set<ChildProcess>();

type Outcome = { code: number | null; signal: NodeJS.Signals | null; stoppedInMs: number; output: string };

/**
 * Spawns a CLI, waits for `ready` in its output and then settleMs more, runs `before` (to break
 * something), sends SIGTERM once, and measures how long the process takes to end.
 */
function stopAfter(script: string, env: Record<string, string>, ready: RegExp, options: { settleMs?: number; before?: () => void } = {}): Promise<Outcome> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ["--import", tsxLoader, join(root, "server", "cli", script)], {
      cwd: root,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: "development", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    running.add(child);
    let output = "";
    let signalledAt = 0;
    let seen = false;
    const hardStop = setTimeout(() => {
      child.kill("SIGKILL");
      fail(new Error(`${script}: no exit 60 s after start or 30 s after SIGTERM\n${output}`));
    }, 90_000);
    const watch = (d: Buffer) => {
      output += d.toString();
      if (!seen && ready.test(output)) {
        seen = true;
        setTimeout(() => {
          options.before?.();
          signalledAt = performance.now();
          child.kill("SIGTERM");
        }, options.settleMs ?? 0);
      }
    };
    child.stdout.on("data", watch);
    child.stderr.on("data", watch);
    child.on("exit", (code, signal) => {
      running.delete(child);
      clearTimeout(hardStop);
      done({ code, signal, stoppedInMs: signalledAt ? performance.now() - signalledAt : -1, output });
    });
  });
}

/** A TCP proxy to RabbitMQ that can turn into a black hole: sockets stay open, nothing passes. */
async function blackHoleProxy(target: URL): Promise<{ url: string; blackHole(): void; connections(): number; close(): void }> {
  const sockets: Socket[] = [];
  let dropping = false;
  let opened = 0;
  const server: Server = createServer((client) => {
    opened++;
    const upstream = createConnection({ host: target.hostname, port: Number(target.port || 5672) });
    sockets.push(client, upstream);
    client.on("data", (d) => !dropping && upstream.write(d));
    upstream.on("data", (d) => !dropping && client.write(d));
    client.on("error", () => {});
    upstream.on("error", () => {});
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = new URL(target);
  url.hostname = "127.0.0.1";
  url.port = String((server.address() as AddressInfo).port);
  return {
    url: url.toString(),
    blackHole: () => void (dropping = true),
    connections: () => opened,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

describe.skipIf(!pgUrl)("workers stop within the shutdown bound on SIGTERM [postgresql, a database of its own]", () => {
  let fresh: Awaited<ReturnType<typeof openFreshPostgresDatabase>>;
  let settings: Record<string, string>;
  beforeAll(async () => {
    fresh = await openFreshPostgresDatabase(2);
    settings = {
      DATABASE_URL: fresh.ownerUrl,
      PHI_MASTER_KEY: randomBytes(32).toString("base64"),
      AUDIT_SIGNING_KEY: generateKeyPairSync("ed25519").privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
      WORKER_METRICS_PORT: "0",
    };
  });
  afterAll(async () => {
    for (const child of running) child.kill("SIGKILL");
    await fresh?.drop();
  });

  it("npm run worker (LISTEN connection, rollup writer, sealer) exits 0 soon after SIGTERM", { timeout: 120_000 }, async () => {
    const out = await stopAfter("worker.ts", settings, /worker: PostgreSQL/, { settleMs: 1_000 });
    expect(out.output).toContain("worker: stopped");
    expect({ code: out.code, signal: out.signal }).toEqual({ code: 0, signal: null });
    expect(out.stoppedInMs).toBeLessThan(SHUTDOWN_GRACE_MS);
  });

  it.skipIf(!amqpUrl)("npm run worker:outbox exits within the bound when the broker stopped answering", { timeout: 120_000 }, async () => {
    const proxy = await blackHoleProxy(new URL(amqpUrl!));
    try {
      // Connected (the worker checks the broker before each drain, every 200 ms here), then the
      // broker goes silent: amqplib's close handshake is never answered (the bus gives up on it
      // after 2 s, and the worker on any close step after 3 s).
      const out = await stopAfter("outbox.ts", { ...settings, AMQP_URL: proxy.url, OUTBOX_POLL_MS: "200" }, /outbox worker started/, {
        settleMs: 2_000,
        before: () => proxy.blackHole(),
      });
      expect(proxy.connections()).toBeGreaterThan(0);
      expect(out.output).toContain("outbox worker stopped");
      expect({ code: out.code, signal: out.signal }).toEqual({ code: 0, signal: null });
      expect(out.stoppedInMs).toBeLessThan(SHUTDOWN_GRACE_MS);
    } finally {
      proxy.close();
    }
  });
});
