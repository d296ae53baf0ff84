// The README lists every test that skips without DATABASE_URL or AMQP_URL; this keeps it true.
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { findSkips, readmeList, skipsMarkdown } from "./skips";

const root = resolve(import.meta.dirname, "../..");

describe("the README's list of skipped tests", () => {
  it("finds the suites that skip, by kind", () => {
    const skips = findSkips(root);
    expect(skips).toContainEqual({ file: "server/eventStore/concurrency.int.test.ts", suite: "event store under concurrency", needs: "postgresql-only" });
    expect(skips.some((s) => s.needs === "postgresql-half")).toBe(true);
    expect(skips.some((s) => s.needs === "amqp" && s.file === "server/workers/outbox.int.test.ts")).toBe(true);
  });

  it("is what the test files say (npx tsx server/testing/skips.ts --write rewrites it)", () => {
    const readme = readFileSync(join(root, "README.md"), "utf8");
    expect(readmeList(readme), "README.md's <!-- tests:skipped --> block; run npx tsx server/testing/skips.ts --write").toBe(skipsMarkdown(findSkips(root)));
  });
});
