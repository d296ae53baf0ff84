// npm run projections:rebuild -- <name> [<name> ...] --reason "why": the same rebuild as the
// console's button, from a terminal, with a progress bar. Several names rebuild those projections
// together, from one reading of the log (each is still its own rebuild, recorded and swapped on
// its own). Ctrl-C cancels (the live tables stay as they were). Recorded in the audit log under
// --user (default: cli:<login name>).
import { userInfo } from "node:os";
import { randomUUID } from "node:crypto";
import { parseArgs } from "node:util";
import { checkPhiKeysAtStart } from "../db/phiKey";
import { storeFor } from "../api/context";
import { allProjections } from "../projections/registry";
import { runRebuilds, startRebuilds, type Progress } from "../projections/rebuild";
import { runScript, withScriptDatabase } from "./script";

const usage = `usage: npm run projections:rebuild -- <name> [<name> ...] --reason "why" [--user <id>]
projections: ${allProjections.map((p) => p.name).join(", ")}`;

function bar(p: Progress): string {
  const total = Math.max(p.total, p.done, 1);
  const share = p.phase === "done" ? 1 : Math.min(p.done / total, 0.99);
  const width = 30;
  const filled = Math.round(share * width);
  const eta = p.eventsPerSecond > 0 && p.phase === "copying" ? ` ETA ${Math.ceil((total - p.done) / p.eventsPerSecond)} s` : "";
  return `${p.name} [${"#".repeat(filled)}${".".repeat(width - filled)}] ${String(Math.floor(share * 100)).padStart(3)}% ${p.done.toLocaleString("en-US")}/${total.toLocaleString("en-US")} events ${Math.round(p.eventsPerSecond).toLocaleString("en-US")}/s ${p.phase}${eta}`;
}

async function main(): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ allowPositionals: true, options: { reason: { type: "string" }, user: { type: "string" }, help: { type: "boolean", short: "h" } } });
  } catch (error) {
    // An unknown flag, or one missing its value: said with the usage, as any other wrong call.
    console.error(`${(error as Error).message}\n${usage}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(usage);
    return 0;
  }
  const reason = values.reason;
  if (positionals.length === 0 || !reason?.trim()) {
    console.error(usage);
    return 2;
  }
  const unknown = positionals.find((name) => !allProjections.some((p) => p.name === name));
  if (unknown) {
    console.error(`unknown projection "${unknown}"\n${usage}`);
    return 2;
  }
  return withScriptDatabase(4, async (db, e) => {
    // A wrong or lost PHI_MASTER_KEY stops here, before a rebuild is started and recorded.
    await checkPhiKeysAtStart(db.sql, e);
    const store = storeFor(db);
    const user = values.user ?? `cli:${userInfo().username}`;
    const started = await startRebuilds(store, positionals, { reason, userId: user, correlationId: `cli-${randomUUID()}` });
    const stop = new AbortController();
    process.once("SIGINT", () => stop.abort());
    process.once("SIGTERM", () => stop.abort());
    const tty = process.stderr.isTTY;
    // Without a terminal, one copying line a second, and the first with events copied at once
    // (the log shows the copy under way); the other phases' lines as they come.
    let lastCopying = 0;
    let copied = false;
    const results = await runRebuilds(store, started, {
      signal: stop.signal,
      onProgress: (p) => {
        const now = Date.now();
        if (p.phase === "copying") {
          const first = p.done > 0 && !copied;
          if (!tty && !first && now - lastCopying < 1000) return;
          if (p.done > 0) copied = true;
          lastCopying = now;
        }
        process.stderr.write(tty ? `\r${bar(p)}\x1b[K` : `${bar(p)}\n`);
      },
    });
    if (tty) process.stderr.write("\n");
    let code = 0;
    for (const [i, result] of results.entries()) {
      const name = started[i]!.projection.name;
      if (result.status === "finished") {
        console.log(
          `rebuilt ${name}: ${result.eventsDone.toLocaleString("en-US")} events in ${(result.durationMs / 1000).toFixed(1)} s ` +
            `(${Math.round(result.eventsPerSecond).toLocaleString("en-US")} events/s); writers paused ${result.swapPauseMs?.toFixed(1)} ms for the swap`,
        );
      } else {
        console.error(`rebuild of ${name} ${result.status}${result.error ? `: ${result.error}` : ""}; its live tables are as they were`);
        code = 1;
      }
    }
    return code;
  });
}

runScript(main, (error) => (error as Error).message);
