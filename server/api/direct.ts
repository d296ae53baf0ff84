// The tRPC endpoint served by Node's HTTP server itself, not through Next's router. The console's
// server (server/cli/serve.ts: npm start, the e2e server, bench row 9) hands every request under
// /api/trpc/ here; Next serves everything else. Next's router costs about as much CPU per request
// as a chart read does (bench row 9: its bare constant route answered 1,200-1,650 requests/s where
// this path answers system.health 2,100-2,650), and tRPC needs none of it.
//
// Same behaviour as the route (app/api/trpc/[trpc]/route.ts, which next dev and next start still
// use): the same handler (handleTrpcRequest: batch and body limits, the CSRF check, the fault
// log), the headers next.config.mjs gives /api/*, and gzip when the client accepts it and the
// answer is 1 KB or more, as Next's compression does. direct.int.test.ts holds the two side by side.
//
// instrumentation.ts offers serveTrpc on globalThis once serve.ts's process has booted: the server
// entry imports nothing of server/ itself, which would load a second copy of every module beside
// Next's bundle.
import "server-only";
import type { IncomingMessage, ServerResponse } from "node:http";
import { promisify } from "node:util";
import { gzip } from "node:zlib";
import { newCorrelationId } from "./context";
import { logServerFault } from "./faults";
import { directTrpcKey, directTrpcWaitingKey } from "./directKeys";
import { contextForRequest, handleTrpcRequest } from "./http";
import { apiHeaders, securityHeaders } from "./responseHeaders.mjs";

/** Answers at least this long are gzipped for a client that accepts it (Next's threshold). */
export const COMPRESS_FROM_BYTES = 1024;

const fixedHeaders = [...securityHeaders(process.env.NODE_ENV === "development"), ...apiHeaders];
const gzipBuffer = promisify(gzip);
const FRAMING_HEADERS = new Set(["transfer-encoding", "content-length", "connection", "keep-alive"]);

/** A request under /api/trpc/, answered as the route answers it. Never rejects. */
export async function serveTrpc(req: IncomingMessage, res: ServerResponse): Promise<void> {
  try {
    const request = requestOf(req, res);
    const response = await handleTrpcRequest(request, (responseHeaders, correlationId) => contextForRequest(request, responseHeaders, correlationId));
    for (const { key, value } of fixedHeaders) res.setHeader(key, value);
    response.headers.forEach((value, key) => {
      // The body is sent whole, with its own length: a streamed answer's framing (tRPC's jsonl
      // says transfer-encoding: chunked) sent beside it made an answer strict clients refuse and a
      // proxy trusting the length could read the rest of as the next answer on the connection.
      if (key !== "set-cookie" && !FRAMING_HEADERS.has(key)) res.setHeader(key, value);
    });
    const cookies = response.headers.getSetCookie();
    if (cookies.length > 0) res.setHeader("set-cookie", cookies);
    let body: Buffer = Buffer.from(await response.arrayBuffer());
    if (body.length >= COMPRESS_FROM_BYTES && acceptsGzip(req.headers["accept-encoding"])) {
      body = await gzipBuffer(body);
      res.setHeader("content-encoding", "gzip");
      res.appendHeader("vary", "Accept-Encoding");
    }
    res.statusCode = response.status;
    res.setHeader("content-length", body.length);
    if (!req.complete) {
      // Answered before the body was read (too large, or refused before it mattered): the rest is
      // read and dropped (requestOf), so the client can finish sending and read this answer, then
      // the connection closes (a client that never stops is cut off by the server's request timeout).
      res.setHeader("connection", "close");
      req.resume();
    }
    res.end(body);
  } catch (error) {
    // handleTrpcRequest answers every fault of a procedure, its context or the body itself; this
    // is the rest (the client gone mid-answer, a broken response): logged, answered if still possible.
    const correlationId = newCorrelationId();
    logServerFault({ procedure: null, correlationId, error });
    if (!res.headersSent) {
      res.statusCode = 500;
      for (const { key, value } of fixedHeaders) res.setHeader(key, value);
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ error: { message: "Internal server error", correlationId } }));
    } else {
      res.destroy();
    }
  }
}

/**
 * The fetch Request handleTrpcRequest takes. Its body is the socket's, read as the handler asks
 * for it; a body the handler gives up on (limitBody: too large) is drained, not destroyed, so the
 * refusal still reaches the client. Aborted when the client goes away before the answer.
 */
function requestOf(req: IncomingMessage, res: ServerResponse): Request {
  const headers = new Headers();
  for (const [key, value] of Object.entries(req.headers)) {
    if (Array.isArray(value)) for (const one of value) headers.append(key, one);
    else if (value !== undefined) headers.append(key, value);
  }
  const aborted = new AbortController();
  res.once("close", () => {
    if (!res.writableEnded) aborted.abort();
  });
  // A fixed origin: the handler routes on the path and query alone, and the Host header (still in
  // `headers`, where the session look-up reads it) is the client's to send. Built from it, a
  // malformed one ("a b", "[", "x:99999") threw here and answered an unauthenticated 500.
  const url = new URL(req.url ?? "/", "http://localhost");
  const method = req.method ?? "GET";
  if (method === "GET" || method === "HEAD") return new Request(url, { method, headers, signal: aborted.signal });
  let open = true;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      req.on("data", (chunk: Buffer) => {
        if (!open) return;
        controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        if ((controller.desiredSize ?? 1) <= 0) req.pause();
      });
      req.once("end", () => {
        if (open) controller.close();
        open = false;
      });
      req.once("error", (error) => {
        if (open) controller.error(error);
        open = false;
      });
    },
    pull() {
      req.resume();
    },
    cancel() {
      open = false;
      req.resume();
    },
  });
  return new Request(url, { method, headers, body, duplex: "half", signal: aborted.signal } as RequestInit & { duplex: "half" });
}

function acceptsGzip(header: string | string[] | undefined): boolean {
  const value = Array.isArray(header) ? header.join(",") : (header ?? "");
  return value.split(",").some((part) => {
    const [coding, ...params] = part.trim().split(";");
    if (coding?.trim().toLowerCase() !== "gzip") return false;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith("q="));
    return q === undefined || Number(q.slice(2)) > 0;
  });
}

/**
 * Called once in serve.ts's process (instrumentation.ts, after the boot, when serve.ts waits for
 * it under directTrpcWaitingKey: Next runs instrumentation while it prepares, without awaiting
 * it): serveTrpc becomes the server entry's to use.
 */
export function offerDirectTrpc(): void {
  const g = globalThis as Record<symbol, unknown>;
  g[directTrpcKey] = serveTrpc;
  const waiting = g[directTrpcWaitingKey];
  if (typeof waiting === "function") (waiting as (handler: typeof serveTrpc) => void)(serveTrpc);
}
