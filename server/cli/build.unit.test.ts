// npm start builds the console when the last build is not a whole, current one.
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildIsCurrent, ensureBuild } from "./build";

const dir = mkdtempSync(join(tmpdir(), "emr-build-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("whether the console's build is current", () => {
  it("not after a build stopped once next build had written BUILD_ID; yes after one that finished", () => {
    mkdirSync(join(dir, "app"));
    writeFileSync(join(dir, "app", "page.tsx"), "export default function Page() { return null; }\n");
    const hourAgo = new Date(Date.now() - 3_600_000);
    utimesSync(join(dir, "app", "page.tsx"), hourAgo, hourAgo);
    const writeBuildId = () => {
      mkdirSync(join(dir, ".next"), { recursive: true });
      writeFileSync(join(dir, ".next", "BUILD_ID"), "abc");
    };
    expect(buildIsCurrent(dir)).toBe(false);

    // Stopped after next build wrote BUILD_ID, before its manifests: the build is not done.
    expect(() =>
      ensureBuild(dir, () => {
        writeBuildId();
        throw new Error("SIGINT");
      }),
    ).toThrow("SIGINT");
    expect(buildIsCurrent(dir)).toBe(false);

    ensureBuild(dir, () => {
      writeBuildId();
      return 0;
    });
    expect(buildIsCurrent(dir)).toBe(true);
    // And a current build is not built again.
    ensureBuild(dir, () => {
      throw new Error("built again");
    });
  });
});
