// Next.js calls register() once when a server process starts (next start, next dev), before it
// handles a request: the settings are checked and the background work starts here, not on the
// first request. The Node.js runtime only: the database and the workers need Node.
export async function register(): Promise<void> {
  if (process.env.NEXT_RUNTIME !== "nodejs") return;
  // Sign-in rate limiting needs each request's socket address (server/auth/clientAddress.ts).
  const { recordPeerAddresses } = await import("./server/auth/peerAddress");
  recordPeerAddresses();
  const { bootServer } = await import("./server/boot");
  await bootServer();
}
