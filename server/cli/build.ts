// Builds the console when there is no build or the sources are newer than the last one.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";

const root = process.cwd();
export const nextBin = join(root, "node_modules", "next", "dist", "bin", "next");

/**
 * node's arguments that run the console's production server (serve.ts) on the last build, with
 * tsx's loader in the same process (not the tsx wrapper: a signal sent to the child reaches the
 * server itself). No port: PORT, or 3000. `dir` is the project (default this one).
 */
export function serverArgs(port: string | number | undefined, hostname?: string, dir = root): string[] {
  const loader = pathToFileURL(join(dir, "node_modules", "tsx", "dist", "loader.mjs")).href;
  return ["--import", loader, join(dir, "server", "cli", "serve.ts"), ...(port === undefined ? [] : ["-p", String(port)]), ...(hostname ? ["-H", hostname] : [])];
}

function newestMtime(path: string): number {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = 0;
  for (const entry of readdirSync(path)) {
    if (entry === "node_modules" || entry === "generated" || entry.startsWith(".") || entry.includes(".test.")) continue;
    newest = Math.max(newest, newestMtime(join(path, entry)));
  }
  return newest;
}

/**
 * Set while ensureBuild's build runs, removed when it succeeds. next build writes BUILD_ID before
 * it has finished (the static pages, the routes and prerender manifests come after), so a start
 * stopped in that moment left a build that looked current, and every later start served it. In
 * .next/cache, which next build keeps when it empties .next.
 */
const unfinishedMark = (dir: string) => join(dir, ".next", "cache", "emr-build-unfinished");

export function buildIsCurrent(dir = root): boolean {
  const buildId = join(dir, ".next", "BUILD_ID");
  if (!existsSync(buildId) || existsSync(unfinishedMark(dir))) return false;
  const built = statSync(buildId).mtimeMs;
  const sources = ["app", "components", "server", "public", "instrumentation.ts", "next.config.mjs", "package-lock.json", "tsconfig.json"];
  return sources.every((s) => newestMtime(join(dir, s)) <= built);
}

const nextBuild = () => spawnSync(process.execPath, [nextBin, "build"], { stdio: "inherit", env: process.env }).status;

/** Builds the console unless the last build is current; `build` answers next build's exit status. */
export function ensureBuild(dir = root, build: () => number | null = nextBuild): void {
  if (buildIsCurrent(dir)) return;
  console.log("building the console (first start, sources changed, or the last build was stopped)…");
  const mark = unfinishedMark(dir);
  mkdirSync(dirname(mark), { recursive: true });
  writeFileSync(mark, `${new Date().toISOString()}\n`);
  const status = build();
  if (status !== 0) process.exit(status ?? 1);
  rmSync(mark, { force: true });
}
