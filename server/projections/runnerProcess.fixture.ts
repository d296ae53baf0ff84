// A runner in a process of its own, for the multi-process tests (runner.int.test.ts):
// tsx runnerProcess.fixture.ts <database url> <owner> <lease seconds> <slow ms>
import { openDatabase } from "../db/client";
import { storeOf } from "../testing/events";
import { noteProjection } from "../testing/noteProjection";
import { startProjectionRunner } from "./runner";

const [url, owner, leaseSeconds, slowMs] = process.argv.slice(2);
const db = await openDatabase({ url, poolMax: 3 });
const stop = new AbortController();
process.once("SIGTERM", () => stop.abort());
const handle = startProjectionRunner(storeOf(db), [noteProjection({ owner, slowMs: Number(slowMs) })], {
  owner,
  pollMs: 50,
  batchSize: 5,
  leaseSeconds: Number(leaseSeconds),
  signal: stop.signal,
  log: (line) => console.log(line),
});
console.log("ready");
await handle.done;
await db.close();
