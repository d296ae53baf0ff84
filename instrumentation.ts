// Runs once when the Next.js server starts (next start, next dev), before any request.
export async function register() {
  if (process.env.NEXT_RUNTIME !== "nodejs") return;
  // Sign-in rate limiting needs each request's socket address (server/auth/clientAddress.ts).
  const { recordPeerAddresses } = await import("./server/auth/peerAddress");
  recordPeerAddresses();
}
