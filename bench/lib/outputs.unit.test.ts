import { describe, expect, it } from "vitest";
import { outputsFor } from "./outputs";

const dir = "/repo/bench/results";

describe("bench outputs", () => {
  it("only a complete full run rewrites the tracked latest.{json,md} and the READMEs' tables", () => {
    expect(outputsFor({ mode: "full", out: null, only: [] }, dir)).toEqual({
      json: `${dir}/latest.json`,
      markdown: `${dir}/latest.md`,
      readmes: true,
    });
  });

  it("--quick and --smoke write ignored *.tmp.* files, never latest.*", () => {
    expect(outputsFor({ mode: "quick", out: null, only: [] }, dir)).toEqual({
      json: `${dir}/quick.tmp.json`,
      markdown: `${dir}/quick.tmp.md`,
      readmes: false,
    });
    expect(outputsFor({ mode: "smoke", out: null, only: [] }, dir)).toEqual({ json: `${dir}/smoke.tmp.json`, markdown: null, readmes: false });
  });

  it("a full run of some workloads is partial: not the record either", () => {
    const partial = outputsFor({ mode: "full", out: null, only: ["1", "4"] }, dir);
    expect(partial).toEqual({ json: `${dir}/full-partial.tmp.json`, markdown: `${dir}/full-partial.tmp.md`, readmes: false });
  });

  it("--out puts the JSON (and for non-smoke runs the markdown) where asked, and never touches the READMEs", () => {
    expect(outputsFor({ mode: "full", out: "/tmp/x.json", only: [] }, dir)).toEqual({ json: "/tmp/x.json", markdown: "/tmp/x.md", readmes: false });
    expect(outputsFor({ mode: "smoke", out: "/tmp/s.json", only: [] }, dir)).toEqual({ json: "/tmp/s.json", markdown: null, readmes: false });
  });

  it("the *.tmp.* files it writes are ignored by git", async () => {
    const { readFileSync } = await import("node:fs");
    const ignore = readFileSync(new URL("../../.gitignore", import.meta.url), "utf8");
    expect(ignore).toContain("bench/results/*.tmp.json");
    expect(ignore).toContain("bench/results/*.tmp.md");
  });
});
