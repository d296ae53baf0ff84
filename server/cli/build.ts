// Builds the console when there is no build or the sources are newer than the last one.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
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

export function buildIsCurrent(): boolean {
  const buildId = join(root, ".next", "BUILD_ID");
  if (!existsSync(buildId)) return false;
  const built = statSync(buildId).mtimeMs;
  const sources = ["app", "components", "server", "public", "instrumentation.ts", "next.config.mjs", "package-lock.json", "tsconfig.json"];
  return sources.every((s) => newestMtime(join(root, s)) <= built);
}

export function ensureBuild(): void {
  if (buildIsCurrent()) return;
  console.log("building the console (first start, or sources changed)…");
  const build = spawnSync(process.execPath, [nextBin, "build"], { stdio: "inherit", env: process.env });
  if (build.status !== 0) process.exit(build.status ?? 1);
}
