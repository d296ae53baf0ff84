// Cross-site request forgery: a state-changing request must come from a page of the console itself.
// The browser's Origin header decides (Referer, then Sec-Fetch-Site, when it sends no Origin),
// against the same trusted origins sign-in uses: BETTER_AUTH_URL (or any port of localhost,
// 127.0.0.1 and [::1] over http when it is unset) and BETTER_AUTH_TRUSTED_ORIGINS.
import type { Auth } from ".";

const safeMethods = new Set(["GET", "HEAD", "OPTIONS"]);

function originOf(url: string): string | null {
  try {
    const origin = new URL(url).origin;
    return origin === "null" ? null : origin;
  } catch {
    return null;
  }
}

/**
 * Why this request may not change anything, or null when it may. Pure: `isTrusted` answers for
 * one origin ("https://emr.example.org").
 */
export function crossSiteReason(request: { method: string; headers: Headers }, isTrusted: (origin: string) => boolean): string | null {
  if (safeMethods.has(request.method.toUpperCase())) return null;
  const headers = request.headers;
  const origin = headers.get("origin");
  if (origin !== null) {
    // "null": sandboxed frames, file: pages, cross-origin redirects. Never the console's own page.
    if (origin.trim() === "null" || originOf(origin) === null) return "the request's origin is opaque (Origin: null)";
    return isTrusted(originOf(origin)!) ? null : `requests from ${originOf(origin)} are not accepted`;
  }
  const referer = headers.get("referer");
  if (referer) {
    const from = originOf(referer);
    if (!from) return "the request's Referer is not a web address";
    return isTrusted(from) ? null : `requests from ${from} are not accepted`;
  }
  const site = headers.get("sec-fetch-site");
  if (site) return site === "same-origin" || site === "none" ? null : `a ${site} request is not accepted`;
  // No Origin, Referer or Fetch Metadata: not a browser page. Without cookies it carries no
  // ambient authority; with them, there is nothing to check it against, so it is refused.
  if (headers.has("cookie")) return "a signed-in request must say where it comes from (Origin header)";
  return null;
}

/** crossSiteReason against this sign-in configuration's trusted origins. */
export async function crossSiteReasonFor(auth: Auth, request: { method: string; headers: Headers }): Promise<string | null> {
  if (safeMethods.has(request.method.toUpperCase())) return null;
  const context = await auth.$context;
  return crossSiteReason(request, (origin) => context.isTrustedOrigin(origin, { allowRelativePaths: false }));
}
