// What the figures were measured on: the machine, the PostgreSQL server and its durability
// settings (commit latency depends on fsync and synchronous_commit), and the code's commit.
import { execFileSync } from "node:child_process";
import os from "node:os";
import pg from "pg";

export type Machine = {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
  postgres: string;
  postgresSettings: Record<string, string>;
};

export type GitInfo = { commit: string; dirty: boolean | null };

export async function machineFacts(databaseUrl: string): Promise<Machine> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const version = await client.query<{ v: string }>("SELECT current_setting('server_version') AS v");
    const settings = await client.query<{ name: string; setting: string; unit: string | null }>(
      `SELECT name, setting, unit FROM pg_settings
        WHERE name IN ('shared_buffers', 'synchronous_commit', 'fsync', 'wal_level', 'max_connections', 'work_mem', 'jit')
        ORDER BY name`,
    );
    const cpus = os.cpus();
    return {
      cpuModel: cpus[0]?.model.trim() ?? "unknown",
      cores: cpus.length,
      memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
      os: `${os.type()} ${os.release()} ${os.arch()}`,
      node: process.version,
      postgres: version.rows[0]?.v ?? "unknown",
      postgresSettings: Object.fromEntries(
        settings.rows.map((r) => [r.name, r.unit && r.name === "shared_buffers" ? `${(Number(r.setting) * 8) / 1024} MB` : r.setting]),
      ),
    };
  } finally {
    await client.end();
  }
}

/** Read-only git: the HEAD commit ("uncommitted" before the first one) and whether the tree differs. */
export function gitInfo(): GitInfo {
  const git = (...args: string[]) =>
    execFileSync("git", ["--no-optional-locks", ...args], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  let commit = "uncommitted";
  try {
    commit = git("rev-parse", "HEAD");
  } catch {
    return { commit, dirty: null };
  }
  try {
    return { commit, dirty: git("status", "--porcelain").length > 0 };
  } catch {
    return { commit, dirty: null };
  }
}
