// The tRPC endpoint as the console's server serves it (serveTrpc on a real Node HTTP server, no
// Next router) beside the route next dev and next start use (app/api/trpc/[trpc]/route.ts): the
// same request gets the same status and the same answer from both, refusals included, and the
// direct answers carry the headers next.config.mjs gives /api/*.
import { randomUUID } from "node:crypto";
import { createServer, request as httpRequest, type Server } from "node:http";
import { connect, type AddressInfo } from "node:net";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeEachDatabase } from "../testing/db";
import { captureLogLines } from "../testing/logLines";
import { newPatient } from "../testing/caller";
import { patientStream } from "../domain/streams";
import { cookieFrom, postRequest, testOrigin, useAsProcessDatabase, withoutSessionCache } from "../testing/http";
import { authFor, createUserWithPassword } from "../auth";
import { PEER_HEADER } from "../auth/clientAddress";
import { recordPeerAddresses } from "../auth/peerAddress";
import { COMPRESS_FROM_BYTES, offerDirectTrpc, serveTrpc } from "./direct";
import { directTrpcKey } from "./directKeys";
import { MAX_BATCH_SIZE, MAX_BODY_BYTES } from "./http";
import { apiHeaders, securityHeaders } from "./responseHeaders.mjs";
import { GET as routeGet, POST as routePost } from "@/app/api/trpc/[trpc]/route";
import { POST as authPost } from "@/app/api/auth/[...all]/route";

recordPeerAddresses();
process.env.BETTER_AUTH_SECRET ??= "test-secret-0123456789-0123456789-abcdef";

type Sent = { method: "GET" | "POST"; path: string; headers?: Record<string, string>; body?: string };
type Answer = { status: number; headers: Headers; body: Buffer };

let server: Server;
let base = "";

beforeAll(async () => {
  server = createServer((req, res) => void serveTrpc(req, res));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** Over the socket to serveTrpc; `chunked`: no Content-Length, the body in pieces. */
function direct({ method, path, headers = {}, body }: Sent, options: { chunked?: boolean } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}${path}`, { method, headers: { host: "127.0.0.1:3100", ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers)) for (const one of Array.isArray(v) ? v : v === undefined ? [] : [v]) h.append(k, one);
        resolve({ status: res.statusCode ?? 0, headers: h, body: Buffer.concat(chunks) });
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    if (body !== undefined && options.chunked) {
      const bytes = Buffer.from(body);
      for (let at = 0; at < bytes.length; at += 256 * 1024) req.write(bytes.subarray(at, at + 256 * 1024));
      req.end();
    } else {
      req.end(body);
    }
  });
}

/** The raw bytes of an answer to `head` (a request line and headers), sent as they are over a socket. */
function rawExchange(head: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const { port } = new URL(base);
    const socket = connect(Number(port), "127.0.0.1", () => socket.end(head));
    const chunks: Buffer[] = [];
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("end", () => resolve(Buffer.concat(chunks).toString("latin1")));
    socket.on("error", reject);
  });
}

/** The same request through Next's route handler, in-process. */
async function viaRoute({ method, path, headers = {}, body }: Sent): Promise<Answer> {
  const request = new Request(`${testOrigin}${path}`, { method, headers: { host: "127.0.0.1:3100", ...headers }, ...(body !== undefined ? { body } : {}) });
  const response = await (method === "GET" ? routeGet(request) : routePost(request));
  return { status: response.status, headers: response.headers, body: Buffer.from(await response.arrayBuffer()) };
}

const json = (answer: Answer) => JSON.parse((answer.headers.get("content-encoding") === "gzip" ? gunzipSync(answer.body) : answer.body).toString()) as unknown;

/** What a tRPC error answer says, without the parts that differ per request (correlation id, stack). */
function errorOf(answer: Answer) {
  const body = json(answer) as { error?: { json: { message: string; data: { code: string; httpStatus: number } } } } | { error?: unknown }[];
  const one = Array.isArray(body) ? body[0] : body;
  const error = (one as { error?: { json: { message: string; data: { code: string; httpStatus: number } } } }).error?.json;
  return error ? { message: error.message, code: error.data.code, httpStatus: error.data.httpStatus } : null;
}

describeEachDatabase("the tRPC endpoint served without Next's router", (db) => {
  const email = `direct-${randomUUID()}@test.invalid`;
  const password = "correct horse battery";
  let cookie = "";
  let sessionTokenOnly = "";

  beforeAll(async () => {
    useAsProcessDatabase(db());
    await createUserWithPassword(authFor(db()), { email, name: "Direct Clinician", password, roles: ["clinician"] });
    const signIn = await authPost(postRequest("/api/auth/sign-in/email", { email, password }, { [PEER_HEADER]: "10.9.8.6" }));
    expect(signIn.status).toBe(200);
    cookie = cookieFrom(signIn);
    sessionTokenOnly = withoutSessionCache(cookie);
  });

  const register = (headers: Record<string, string> = {}): Sent => ({
    method: "POST",
    path: "/api/trpc/patient.register",
    headers: { "content-type": "application/json", origin: testOrigin, cookie, ...headers },
    body: JSON.stringify({ json: newPatient() }),
  });

  it("answers a query as the route does, with the headers next.config.mjs gives /api/*", async () => {
    const sent: Sent = { method: "GET", path: "/api/trpc/system.health" };
    const [d, r] = await Promise.all([direct(sent), viaRoute(sent)]);
    expect(d.status).toBe(200);
    expect(r.status).toBe(200);
    expect(Object.keys((json(d) as { result: { data: { json: object } } }).result.data.json).sort()).toEqual(
      Object.keys((json(r) as { result: { data: { json: object } } }).result.data.json).sort(),
    );
    expect(d.headers.get("content-type")).toBe(r.headers.get("content-type"));
    for (const { key, value } of [...securityHeaders(false), ...apiHeaders]) expect(d.headers.get(key), key).toBe(value);
  });

  it("registers a patient for a signed-in clinician from the console's own page, as the route does", async () => {
    for (const send of [direct, viaRoute]) {
      const sent = register();
      const answer = await send(sent);
      expect(answer.status).toBe(200);
      const { mrn } = (JSON.parse(sent.body as string) as { json: { mrn: string } }).json;
      expect(await db().prisma.rmPatient.count({ where: { mrn } })).toBe(1);
    }
  });

  it("refuses what the route refuses, with the same status, code and message, and writes nothing", async () => {
    const refused: [string, Sent, number][] = [
      ["a cross-site mutation", register({ origin: "http://evil.example" }), 403],
      ["a mutation with no Origin, Referer or Fetch Metadata and a cookie", { ...register(), headers: { "content-type": "application/json", cookie } }, 403],
      ["malformed input", { ...register(), body: JSON.stringify({ json: { ...newPatient(), mrn: 5 } }) }, 400],
      ["a body that is not JSON", { ...register(), body: "{not json" }, 400],
      ["a procedure that does not exist", { method: "GET", path: "/api/trpc/patient.nothingHere" }, 404],
      ["a mutation sent as GET", { method: "GET", path: `/api/trpc/patient.register?input=${encodeURIComponent(JSON.stringify({ json: newPatient() }))}`, headers: { cookie } }, 405],
      ["no session", { ...register(), headers: { "content-type": "application/json", origin: testOrigin } }, 401],
      [
        `a batch of ${MAX_BATCH_SIZE + 1} calls`,
        { method: "GET", path: `/api/trpc/${Array.from({ length: MAX_BATCH_SIZE + 1 }, () => "system.health").join(",")}?batch=1&input={}` },
        400,
      ],
      ["a body over the limit", { ...register(), body: JSON.stringify({ json: { padding: "x".repeat(MAX_BODY_BYTES) } }) }, 413],
    ];
    for (const [name, sent, status] of refused) {
      const patientsBefore = await db().prisma.rmPatient.count();
      const [d, r] = [await direct(sent), await viaRoute(sent)];
      expect(d.status, name).toBe(status);
      expect(r.status, name).toBe(status);
      expect(errorOf(d), name).toEqual(errorOf(r));
      expect(await db().prisma.rmPatient.count(), name).toBe(patientsBefore);
    }
  });

  it("gives every request the server's own correlation id: a client's x-correlation-id naming another request does not join it", async () => {
    const correlationsOf = async (answer: Answer) => {
      expect(answer.status).toBe(200);
      const { patientId } = (json(answer) as { result: { data: { json: { patientId: string } } } }).result.data.json;
      const rows = await db().prisma.$queryRaw<{ correlation_id: string }[]>`
        SELECT DISTINCT correlation_id FROM events WHERE stream_id = ${patientStream(patientId)}`;
      expect(rows).toHaveLength(1);
      return { patientId, correlationId: rows[0]!.correlation_id };
    };
    const victim = await correlationsOf(await direct(register()));
    for (const send of [direct, viaRoute]) {
      const forged = await correlationsOf(await send(register({ "x-correlation-id": victim.correlationId })));
      expect(forged.correlationId).not.toBe(victim.correlationId);
      // What the audit views show as "everything in that request": still only the victim's events.
      const inVictimsRequest = await db().prisma.$queryRaw<{ stream_id: string }[]>`
        SELECT DISTINCT stream_id FROM events WHERE correlation_id = ${victim.correlationId}`;
      expect(inVictimsRequest.map((r) => r.stream_id)).toEqual([patientStream(victim.patientId)]);
    }
  });

  it("answers a request with a malformed Host header as any other, never with a server fault", async () => {
    const log = captureLogLines();
    try {
      for (const host of ["a b", "[", "%", "x:99999"]) {
        const health = await direct({ method: "GET", path: "/api/trpc/system.health", headers: { host } });
        expect(health.status, host).toBe(200);
        const signedIn = await direct({ method: "GET", path: "/api/trpc/patient.list?input=%7B%22json%22%3A%7B%7D%7D", headers: { host, cookie } });
        expect(signedIn.status, host).toBeLessThan(500);
        // The CSRF check still reads the Origin, whatever the Host says.
        const crossSite = await direct(register({ host, origin: "http://evil.example" }));
        expect(crossSite.status, host).toBe(403);
      }
      expect(log.lines.filter((l) => l.includes("[fault]"))).toEqual([]);
    } finally {
      log.restore();
    }
  });

  it("answers an HTTP/1.0 request without a Host header (a load balancer's health check) as a signed-out one", async () => {
    const log = captureLogLines();
    try {
      const answer = await rawExchange("GET /api/trpc/system.health HTTP/1.0\r\n\r\n");
      expect(answer.split("\r\n")[0]).toMatch(/^HTTP\/1\.[01] 200 /);
      expect(answer).toContain('"status":"up"');
      const list = await rawExchange(`GET /api/trpc/patient.list?input=%7B%22json%22%3A%7B%7D%7D HTTP/1.0\r\nCookie: ${cookie}\r\n\r\n`);
      expect(list.split("\r\n")[0]).toMatch(/^HTTP\/1\.[01] 401 /);
      expect(log.lines.filter((l) => l.includes("[fault]"))).toEqual([]);
    } finally {
      log.restore();
    }
  });

  it("answers a client that asks for the streamed format with one framing: a length, never a length and chunks", async () => {
    const sent: Sent = { method: "GET", path: "/api/trpc/system.health?batch=1&input=%7B%7D", headers: { "trpc-accept": "application/jsonl" } };
    // Node's parser, like undici's, refuses an answer that carries both (a proxy trusting the
    // length would read the chunks' framing as the next answer on the connection).
    const answer = await direct(sent);
    expect(answer.status).toBe(200);
    expect(answer.headers.get("transfer-encoding")).toBeNull();
    expect(Number(answer.headers.get("content-length"))).toBe(answer.body.length);
    const raw = await rawExchange("GET /api/trpc/system.health?batch=1&input=%7B%7D HTTP/1.0\r\nHost: 127.0.0.1:3100\r\ntrpc-accept: application/jsonl\r\n\r\n");
    expect(raw.toLowerCase()).not.toContain("transfer-encoding");
  });

  it("refuses a body over the limit that declares no length (chunked), as soon as it passes the limit", async () => {
    const answer = await direct({ ...register(), body: JSON.stringify({ json: { padding: "x".repeat(MAX_BODY_BYTES + 1024) } }) }, { chunked: true });
    expect(answer.status).toBe(413);
    expect(errorOf(answer)?.code).toBe("PAYLOAD_TOO_LARGE");
  });

  it("passes on the cookies the context sets (the session cache refreshed after a database look-up)", async () => {
    const sent: Sent = { method: "GET", path: "/api/trpc/system.health", headers: { cookie: sessionTokenOnly } };
    const [d, r] = await Promise.all([direct(sent), viaRoute(sent)]);
    const names = (a: Answer) => a.headers.getSetCookie().map((c) => c.split("=")[0]).sort();
    expect(names(r).length).toBeGreaterThan(0);
    expect(names(d)).toEqual(names(r));
  });

  it("gzips an answer of 1 KB or more for a client that accepts it, and only then", async () => {
    const calls = Array.from({ length: MAX_BATCH_SIZE }, () => "system.health").join(",");
    const input = encodeURIComponent(JSON.stringify(Object.fromEntries(Array.from({ length: MAX_BATCH_SIZE }, (_, i) => [i, {}]))));
    // Signed in, health also reports the migrations and the log's size: 20 of them pass 1 KB.
    const sent: Sent = { method: "GET", path: `/api/trpc/${calls}?batch=1&input=${input}`, headers: { cookie } };
    const plain = await direct(sent);
    expect(plain.status).toBe(200);
    expect(plain.body.length).toBeGreaterThanOrEqual(COMPRESS_FROM_BYTES);
    expect(plain.headers.get("content-encoding")).toBeNull();
    const zipped = await direct({ ...sent, headers: { cookie, "accept-encoding": "br;q=1, gzip;q=0.8" } });
    expect(zipped.headers.get("content-encoding")).toBe("gzip");
    expect(zipped.headers.get("vary")).toMatch(/Accept-Encoding/);
    expect(zipped.body.length).toBeLessThan(plain.body.length);
    expect((json(zipped) as unknown[]).length).toBe(MAX_BATCH_SIZE);
    const refusedGzip = await direct({ ...sent, headers: { cookie, "accept-encoding": "gzip;q=0" } });
    expect(refusedGzip.headers.get("content-encoding")).toBeNull();
    const small = await direct({ method: "GET", path: "/api/trpc/system.health", headers: { "accept-encoding": "gzip" } });
    expect(small.body.length).toBeLessThan(COMPRESS_FROM_BYTES);
    expect(small.headers.get("content-encoding")).toBeNull();
  });

  it("is offered on globalThis for the server entry", () => {
    offerDirectTrpc();
    expect((globalThis as Record<symbol, unknown>)[directTrpcKey]).toBe(serveTrpc);
  });
});
