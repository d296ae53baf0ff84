// npm run keys:rotate: re-wrap every patient's data key under PHI_MASTER_KEY (the new master
// key), unwrapping with PHI_MASTER_KEY_PREVIOUS (the old one, or several, comma-separated).
// Events are not touched. Progress on stderr; Ctrl-C stops after the current batch, and running
// it again carries on. Steps: set PHI_MASTER_KEY=new and PHI_MASTER_KEY_PREVIOUS=old everywhere
// (the console reads both meanwhile), run this, then drop PHI_MASTER_KEY_PREVIOUS, but only
// once it says so: it says so only when no data key is left under an old master key.
// Exit codes: 0 complete; 1 error, or another rotation is running; 75 keys still locked by
// another transaction after waiting (run it again); 130 stopped by a signal.
import { EnvError } from "../db/env";
import { masterKeysOf, refuseLostDevelopmentKey } from "../db/phiKey";
import { RotationBusyError, rotateMasterKey } from "../db/phiRotate";
import { refuseArguments, runScript, withScriptDatabase } from "./script";

refuseArguments(`usage: PHI_MASTER_KEY=<new> PHI_MASTER_KEY_PREVIOUS=<old>[,<older>] npm run keys:rotate
re-wraps every patient's data key under PHI_MASTER_KEY; events are not touched (README: PHI protection)`);

const main = () =>
  withScriptDatabase(2, async (db, e) => {
    // Without PHI_MASTER_KEY the current key is the development one: a lost one is said so, not
    // made anew over data it cannot read. (Keys that do not unwrap are named by the rotation,
    // which says which key to add to PHI_MASTER_KEY_PREVIOUS.)
    await refuseLostDevelopmentKey(db.sql, e);
    // A rotation's target is the key the operator names. Unset (forgotten in one shell), the
    // development key file of whatever checkout this runs in became it: every data key of the
    // install re-wrapped under a file the console does not have, and "PREVIOUS can be removed".
    if (!e.PHI_MASTER_KEY) {
      console.error(
        "keys:rotate: PHI_MASTER_KEY is not set. A rotation re-wraps every data key under the master key PHI_MASTER_KEY names: " +
          "set it to the new key and PHI_MASTER_KEY_PREVIOUS to the old one. The development key file is never a rotation's target.",
      );
      return 1;
    }
    const keys = masterKeysOf(e);
    const stop = new AbortController();
    process.once("SIGINT", () => stop.abort());
    process.once("SIGTERM", () => stop.abort());
    console.error(`keys:rotate: re-wrapping patient data keys under master key ${keys.current.id}`);
    const tty = process.stderr.isTTY;
    let lastWaitNote = 0;
    const result = await rotateMasterKey(db, keys, {
      signal: stop.signal,
      onProgress: (p) => {
        const pct = p.total === 0 ? 100 : Math.floor((p.done / p.total) * 100);
        const line = `${String(pct).padStart(3)}% ${p.done.toLocaleString("en-US")}/${p.total.toLocaleString("en-US")} data keys re-wrapped`;
        process.stderr.write(tty ? `\r${line}\x1b[K` : `${line}\n`);
      },
      onWaiting: (locked) => {
        if (Date.now() - lastWaitNote < 10_000) return;
        lastWaitNote = Date.now();
        process.stderr.write(`${tty ? "\n" : ""}keys:rotate: waiting for ${locked} data keys locked by another transaction (an erasure, say)\n`);
      },
    });
    if (tty) process.stderr.write("\n");
    if (result.interrupted) {
      console.log(`keys:rotate: stopped after ${result.done} of ${result.total}; run it again to finish (nothing is lost meanwhile)`);
      return 130;
    }
    if (result.remaining > 0) {
      console.log(
        `keys:rotate: ${result.done} data keys re-wrapped, but ${result.remaining} are still wrapped by an old master key, locked by another transaction: keep PHI_MASTER_KEY_PREVIOUS and run this again`,
      );
      return 75;
    }
    console.log(`keys:rotate: done, ${result.done} data keys re-wrapped; every key is now under ${keys.current.id}: PHI_MASTER_KEY_PREVIOUS can be removed`);
    if (result.done > 0) {
      // The database kept each replaced wrapping (a wrong re-wrap loses no key); under the old key.
      console.log(
        "keys:rotate: the wrappings replaced are kept in phi_key_history; once every chart reads, the database owner deletes those of the old master key (README, PHI protection)",
      );
    }
    return 0;
  });

runScript(main, (error) =>
  error instanceof RotationBusyError ? `keys:rotate: ${error.message}` : error instanceof EnvError ? error.message : `keys:rotate failed: ${(error as Error).message}`,
);
