// Stamps every HTTP request of this process with its socket's address (see clientAddress.ts):
// Node's `http.server.request.start` diagnostics channel fires before any handler, Next's
// included. A value a client sent under the same header name is deleted first.
import { subscribe } from "node:diagnostics_channel";
import type { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import { PEER_HEADER, peerHookKey } from "./clientAddress";

/** Idempotent; call it once at start-up (instrumentation.ts). */
export function recordPeerAddresses(): void {
  const g = globalThis as Record<symbol, unknown>;
  if (g[peerHookKey]) return;
  subscribe("http.server.request.start", (message) => {
    const { request, socket } = message as { request: IncomingMessage; socket: Socket };
    delete request.headers[PEER_HEADER];
    if (socket.remoteAddress) request.headers[PEER_HEADER] = socket.remoteAddress;
  });
  g[peerHookKey] = true;
}
