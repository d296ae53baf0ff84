// A constant answer that touches nothing (no database, no session, no tRPC): a liveness probe
// for load balancers, and bench row 9's "framework ceiling" (what Next.js itself costs per request).
export const dynamic = "force-dynamic";

export function GET(): Response {
  return new Response("ok", { headers: { "content-type": "text/plain", "cache-control": "no-store" } });
}
