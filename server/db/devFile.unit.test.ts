import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { makeDevFileOnce } from "./devFile";

const dir = mkdtempSync(join(tmpdir(), "emr-dev-file-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("a development key file", () => {
  it("is made whole once (mode 600, its folder too), with no draft left beside it", () => {
    const file = join(dir, "nested", "key");
    makeDevFileOnce(file, () => "first");
    makeDevFileOnce(file, () => "second");
    expect(readFileSync(file, "utf8")).toBe("first");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(join(dir, "nested"))).toEqual(["key"]);
  });

  it("is never half there: a draft a killed start left is not read, and the file is made beside it", () => {
    const file = join(dir, "secret");
    writeFileSync(`${file}.12345.1`, "");
    makeDevFileOnce(file, () => "whole");
    expect(readFileSync(file, "utf8")).toBe("whole");
  });

  it("a file another process linked first is kept, and its content is not made again", () => {
    const file = join(dir, "theirs");
    writeFileSync(file, "theirs");
    let made = 0;
    makeDevFileOnce(file, () => (made++, "mine"));
    expect(made).toBe(0);
    expect(readFileSync(file, "utf8")).toBe("theirs");
  });

  it("on a folder without hard links (EPERM from link), is made in place, once", () => {
    const file = join(dir, "share", "key");
    const noLinks = () => {
      throw Object.assign(new Error("operation not permitted"), { code: "EPERM" });
    };
    makeDevFileOnce(file, () => "made", noLinks);
    makeDevFileOnce(file, () => "again", noLinks);
    expect(readFileSync(file, "utf8")).toBe("made");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readdirSync(join(dir, "share"))).toEqual(["key"]);
  });

  it("any other failure to link is not hidden", () => {
    const broken = () => {
      throw Object.assign(new Error("no space left on device"), { code: "ENOSPC" });
    };
    expect(() => makeDevFileOnce(join(dir, "full", "key"), () => "x", broken)).toThrow(/no space left/);
    expect(readdirSync(join(dir, "full"))).toEqual([]);
  });
});
