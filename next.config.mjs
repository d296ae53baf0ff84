import { apiHeaders, securityHeaders } from "./server/api/responseHeaders.mjs";

/** @type {import('next').NextConfig} */
const nextConfig = {
  reactStrictMode: true,
  poweredByHeader: false,
  typedRoutes: false,
  // CI (.ci/run) type-checks the same program with tsc --noEmit right after the build, so the
  // build need not do it too; every other build checks its types itself.
  typescript: { ignoreBuildErrors: process.env.EMR_BUILD_SKIP_TYPECHECK === "1" },
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
