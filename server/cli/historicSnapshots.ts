// npm run snapshots:historic: writes the sparse historic snapshots (one per run of 500 versions)
// that long streams laid down in bulk, or grown before snapshots kept them, lack, so a load at an
// old version (time travel, an audit) folds at most a few hundred events instead of the stream
// from version 1 (server/workers/historicSnapshots.ts). Admin → Snapshots says how many streams
// lack them. Progress on stderr; Ctrl-C stops after the current stream, and running it again
// carries on. Snapshots are a cache: no load's result changes.
// Streams of erased patients are left out (nothing is sealed under a destroyed key).
// Exit codes: 0 every such stream has its snapshots; 1 an error, or
// streams left without them (a snapshot of an older state shape holds the version: discard the
// stale snapshots on Admin → Snapshots, then run this again); 130 stopped by a signal.
import { EnvError } from "../db/env";
import { checkPhiKeysAtStart } from "../db/phiKey";
import { storeFor } from "../api/context";
import { snapshotted } from "../domain/deciders";
import { backfillHistoricSnapshots } from "../workers/historicSnapshots";
import { refuseArguments, runScript, withScriptDatabase } from "./script";

refuseArguments(`usage: npm run snapshots:historic
writes the historic snapshots (one per run of 500 versions) that long streams lack; Ctrl-C stops after a stream, a rerun carries on`);

const main = () =>
  withScriptDatabase(2, async (db, e) => {
    // Snapshots of patients' records are sealed under their data keys: a wrong or lost
    // PHI_MASTER_KEY stops here, before anything is written.
    await checkPhiKeysAtStart(db.sql, e);
    const stop = new AbortController();
    process.once("SIGINT", () => stop.abort());
    process.once("SIGTERM", () => stop.abort());
    const tty = process.stderr.isTTY;
    let lastLine = 0;
    const result = await backfillHistoricSnapshots(storeFor(db), snapshotted, {
      signal: stop.signal,
      onProgress: (p) => {
        // Without a terminal, a line a second (and the first and last); nothing when nothing lacks them.
        if (p.streams === 0 || (!tty && p.done > 0 && p.done < p.streams && Date.now() - lastLine < 1_000)) return;
        lastLine = Date.now();
        const pct = Math.floor((p.done / p.streams) * 100);
        const line = `${String(pct).padStart(3)}% ${p.done.toLocaleString("en-US")}/${p.streams.toLocaleString("en-US")} streams, ${p.snapshotsWritten.toLocaleString("en-US")} snapshots written`;
        process.stderr.write(tty ? `\r${line}\x1b[K` : `${line}\n`);
      },
    });
    if (tty && result.streams > 0) process.stderr.write("\n");
    const n = (count: number, what: string) => `${count.toLocaleString("en-US")} ${what}${count === 1 ? "" : "s"}`;
    // A patient erased while this ran: their stream is left as it is (nothing is sealed under a destroyed key).
    const erased = result.erased.length > 0 ? `; ${n(result.erased.length, "stream")} left: the patient was erased meanwhile` : "";
    const folded = `${n(result.done - result.erased.length, "stream")} folded, ${n(result.snapshotsWritten, "snapshot")} written${erased}`;
    if (result.interrupted) {
      console.log(`snapshots:historic: stopped after ${result.done} of ${n(result.streams, "stream")} (${folded}); run it again to finish`);
      return 130;
    }
    if (result.stillMissing.length > 0) {
      console.log(
        `snapshots:historic: ${folded}; ${n(result.stillMissing.length, "stream")} still ${result.stillMissing.length === 1 ? "lacks" : "lack"} some (a snapshot of an older state shape holds the version: ` +
          `discard the stale snapshots on Admin → Snapshots, then run this again), e.g. ${result.stillMissing.slice(0, 5).join(", ")}`,
      );
      return 1;
    }
    console.log(result.streams === 0 ? "snapshots:historic: no stream lacks historic snapshots" : `snapshots:historic: done, ${folded}`);
    return 0;
  });

runScript(main, (error) => (error instanceof EnvError ? error.message : `snapshots:historic failed: ${(error as Error).message}`));
