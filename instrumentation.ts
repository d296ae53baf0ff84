// Next.js calls register() once when a server process starts (next start, next dev, the console's
// own server server/cli/serve.ts), before it handles a request: the settings are checked and the
// background work starts here, not on the first request. The Node.js runtime only: the database
// and the workers need Node.
export async function register(): Promise<void> {
  if (process.env.NEXT_RUNTIME !== "nodejs") return;
  // Sign-in rate limiting needs each request's socket address (server/auth/clientAddress.ts).
  const { recordPeerAddresses } = await import("./server/auth/peerAddress");
  recordPeerAddresses();
  const { bootServer } = await import("./server/boot");
  await bootServer();
  // In serve.ts's process, which waits for it: the tRPC endpoint it serves without Next's router.
  const { directTrpcWaitingKey } = await import("./server/api/directKeys");
  if (typeof (globalThis as Record<symbol, unknown>)[directTrpcWaitingKey] === "function") {
    const { offerDirectTrpc } = await import("./server/api/direct");
    offerDirectTrpc();
  }
}
