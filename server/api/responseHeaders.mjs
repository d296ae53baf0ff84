// The headers the console's answers carry: next.config.mjs gives them to Next's pages and routes,
// server/api/direct.ts to the tRPC endpoint it serves without Next's router.

/** Every answer: what the browser may load, frame and send. */
export function securityHeaders(development) {
  return [
    {
      key: "Content-Security-Policy",
      value: [
        "default-src 'self'",
        // Next's runtime injects inline bootstrap scripts; no third-party origins are allowed.
        `script-src 'self' 'unsafe-inline'${development ? " 'unsafe-eval'" : ""}`,
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "object-src 'none'",
      ].join("; "),
    },
    { key: "X-Frame-Options", value: "DENY" },
    { key: "X-Content-Type-Options", value: "nosniff" },
    { key: "Referrer-Policy", value: "no-referrer" },
    { key: "Permissions-Policy", value: "camera=(), microphone=(), geolocation=()" },
    { key: "Cross-Origin-Opener-Policy", value: "same-origin" },
    { key: "Cross-Origin-Resource-Policy", value: "same-origin" },
    // Ignored by browsers over plain http (the local demo); pins https once served over it.
    { key: "Strict-Transport-Security", value: "max-age=31536000" },
  ];
}

/** API answers carry patient data and session state: never stored by browsers or proxies. */
export const apiHeaders = [{ key: "Cache-Control", value: "no-store" }];
