// The console's server drains on SIGTERM (drain.ts, serve.ts): an outside operator test kept
// `npm run serve` serving new requests on its keep-alive connections for 30-130 s after SIGTERM,
// until its load script ended. Here a plain node:http server with the same drain, driven by raw
// keep-alive connections (to see each answer and each close) and by fetch loops (the load).
import type { IncomingMessage, ServerResponse } from "node:http";
import { connect, type AddressInfo, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { drainingServer, RETRY_AFTER_SECONDS, type DrainingServer, type DrainOutcome } from "./drain";

type Answer = { status: number; headers: Record<string, string>; body: string };

/** A keep-alive connection read as a sequence of answers (each with a content-length). */
function rawConnection(port: number) {
  const socket: Socket = connect(port, "127.0.0.1");
  let buffer = "";
  const answers: Answer[] = [];
  let closed = false;
  const waiters: (() => void)[] = [];
  const wake = () => waiters.splice(0).forEach((w) => w());
  socket.setEncoding("utf8");
  socket.on("data", (chunk: string) => {
    buffer += chunk;
    for (;;) {
      const end = buffer.indexOf("\r\n\r\n");
      if (end < 0) break;
      const [statusLine, ...lines] = buffer.slice(0, end).split("\r\n");
      const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 1).trim()]));
      const length = Number(headers["content-length"] ?? 0);
      if (buffer.length < end + 4 + length) break;
      answers.push({ status: Number(statusLine!.split(" ")[1]), headers, body: buffer.slice(end + 4, end + 4 + length) });
      buffer = buffer.slice(end + 4 + length);
    }
    wake();
  });
  socket.on("error", () => {});
  socket.on("close", () => {
    closed = true;
    wake();
  });
  const until = (test: () => boolean) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out; answers so far: ${JSON.stringify(answers)}`)), 5000);
      const check = () => (test() ? (clearTimeout(timer), resolve()) : waiters.push(check));
      check();
    });
  return {
    answers,
    closed: () => closed,
    send: (path: string) => socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`),
    answered: (n: number) => until(() => answers.length >= n),
    ended: () => until(() => closed),
    destroy: () => socket.destroy(),
  };
}

let open: DrainingServer | null = null;
afterEach(() => {
  open?.server.closeAllConnections();
  open?.server.close();
  open = null;
});

/** A server whose /slow and /stream answers wait for release(), /work takes 2 ms, /hang never answers. */
async function serve(onRequest?: (handled: number) => void) {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const handled: string[] = [];
  const d = drainingServer((req: IncomingMessage, res: ServerResponse) => {
    handled.push(req.url!);
    onRequest?.(handled.length);
    const answer = (body: string) => res.writeHead(200, { "content-length": Buffer.byteLength(body) }).end(body);
    if (req.url === "/slow") void released.then(() => answer("slow"));
    else if (req.url === "/stream") {
      // Headers (keep-alive) out before the drain begins, the body after.
      res.writeHead(200, { "content-length": 6 }).write("str");
      void released.then(() => res.end("eam"));
    } else if (req.url !== "/hang") answer("ok");
  });
  open = d;
  // An ephemeral port: never one another test or server holds.
  await new Promise<void>((r) => d.server.listen(0, "127.0.0.1", r));
  return { d, port: (d.server.address() as AddressInfo).port, release, handled };
}

describe("the console's server draining on SIGTERM", () => {
  it("answers the requests in flight with Connection: close, refuses 503 a request on an old connection, and ends every connection", async () => {
    const { d, port, release, handled } = await serve();
    const idle = rawConnection(port);
    idle.send("/");
    await idle.answered(1);
    expect(idle.answers[0]!.headers.connection).toBe("keep-alive");
    const slow = rawConnection(port);
    slow.send("/slow");
    const stream = rawConnection(port);
    stream.send("/stream");
    while (handled.length < 3) await new Promise((r) => setTimeout(r, 5));

    const t0 = performance.now();
    const stopped = d.stop(10_000);
    expect(d.stopping()).toBe(true);
    // The client keeps using its connection: the next request waits behind the one in flight.
    stream.send("/");
    await idle.ended();
    await expect(fetch(`http://127.0.0.1:${port}/`)).rejects.toThrow();
    release();

    await slow.answered(1);
    expect(slow.answers[0]).toMatchObject({ status: 200, body: "slow", headers: { connection: "close" } });
    await slow.ended();
    await stream.answered(2);
    expect(stream.answers[0]).toMatchObject({ status: 200, body: "stream", headers: { connection: "keep-alive" } });
    expect(stream.answers[1]).toMatchObject({ status: 503, headers: { connection: "close", "retry-after": String(RETRY_AFTER_SECONDS) } });
    await stream.ended();
    // Nothing reached the handler after the drain began.
    expect(handled).toEqual(["/", "/slow", "/stream"]);
    await expect(stopped).resolves.toEqual({ outcome: "drained", cutRequests: 0 });
    expect(performance.now() - t0).toBeLessThan(2000);
  });

  it("ends within a moment under keep-alive load (the operator's 4 fetch loops), serving nothing new", async () => {
    // The signal arrives while a request is being handled, as it does under load: that client's
    // connection is busy, so closing the idle ones once (all server.close() did) leaves it served.
    let stopped: Promise<DrainOutcome> | undefined;
    let t0 = 0;
    let handledAtStop = 0;
    const { d, port, handled } = await serve((count) => {
      if (count === 200) {
        handledAtStop = count;
        t0 = performance.now();
        stopped = d.stop(10_000);
      }
    });
    let running = true;
    const after = { ok: 0, refused: 0, failed: 0 };
    const loops = Array.from({ length: 4 }, async () => {
      while (running) {
        const stoppingWhenSent = d.stopping();
        try {
          const res = await fetch(`http://127.0.0.1:${port}/work`);
          await res.arrayBuffer();
          if (!stoppingWhenSent) continue;
          if (res.status === 503) after.refused++;
          else after.ok++;
        } catch {
          after.failed++;
          await new Promise((r) => setTimeout(r, 5));
        }
      }
    });
    while (!stopped) await new Promise((r) => setTimeout(r, 5));
    const outcome = await Promise.race([stopped, new Promise((r) => setTimeout(() => r("still serving 3 s after the stop"), 3000))]);
    const took = performance.now() - t0;
    running = false;
    await Promise.all(loops);
    expect(outcome).toEqual({ outcome: "drained", cutRequests: 0 });
    expect(took).toBeLessThan(2000);
    // Only the requests already received when the drain began were served.
    expect(handled.length - handledAtStop).toBe(0);
    expect(after.ok).toBe(0);
  });

  it("closes what is still open at the deadline, however long a request takes and while a client keeps sending", async () => {
    const { d, port } = await serve();
    const hung = rawConnection(port);
    hung.send("/hang");
    const busy = rawConnection(port);
    busy.send("/");
    await busy.answered(1);
    let sending = true;
    const sender = (async () => {
      while (sending && !busy.closed()) {
        busy.send("/");
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
    const t0 = performance.now();
    const outcome = await d.stop(500);
    const took = performance.now() - t0;
    sending = false;
    await sender;
    expect(outcome).toEqual({ outcome: "cut", cutRequests: 1 });
    expect(took).toBeGreaterThanOrEqual(450);
    expect(took).toBeLessThan(1500);
    await hung.ended();
    await busy.ended();
    expect(hung.answers).toEqual([]);
  });
});
