import { defineConfig } from "vitest/config";
import { fileURLToPath } from "node:url";

export default defineConfig({
  resolve: { alias: { "@": fileURLToPath(new URL("./", import.meta.url)) } },
  test: {
    include: ["server/**/*.test.ts", "shared/**/*.test.ts", "lint/**/*.test.ts", "bench/**/*.test.ts", "components/**/*.test.ts", "prisma/**/*.test.ts"],
    globalSetup: ["server/testing/globalSetup.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks",
  },
});
