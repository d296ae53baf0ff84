import { apiHeaders, securityHeaders } from "./server/api/responseHeaders.mjs";

/** @type {import('next').NextConfig} */
const nextConfig = {
  reactStrictMode: true,
  poweredByHeader: false,
  typedRoutes: false,
  // Loaded by Node at run time, not bundled: PGlite reads its WASM files from its package.
  serverExternalPackages: ["@electric-sql/pglite", "pglite-prisma-adapter", "pg", "@prisma/adapter-pg", "prom-client"],
  async headers() {
    return [
      { source: "/:path*", headers: securityHeaders(process.env.NODE_ENV === "development") },
      { source: "/api/:path*", headers: apiHeaders },
    ];
  },
};

export default nextConfig;
