import nextVitals from "eslint-config-next/core-web-vitals";
import nextTs from "eslint-config-next/typescript";

const config = [
  ...nextVitals,
  ...nextTs,
  {
    ignores: [".scratch/**", ".next/**", "node_modules/**", "server/db/generated/**", ".data/**", "bench/results/**", "lint/fixtures/**", "test-results/**", "playwright-report/**", "next-env.d.ts"],
  },
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "no-console": "off",
    },
  },
  {
    // The browser's code may import server modules for their types only: a runtime import would
    // pull server code (and its secrets, drivers and node: modules) into the client bundle.
    // shared/ holds what both sides may import (pure schemas and value lists).
    files: ["components/**/*.{ts,tsx}", "shared/**/*.{ts,tsx}"],
    rules: {
      "@typescript-eslint/no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              group: ["@/server", "@/server/**", "**/server/**", "server-only", "node:*"],
              allowTypeImports: true,
              message: "Components and shared/ import server code for types only (import type ...); put shared runtime values in shared/.",
            },
          ],
        },
      ],
    },
  },
];

export default config;
