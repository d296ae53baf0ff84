// A script stopped mid-transaction (Ctrl-Z on `npm run projections:rebuild`, a debugger) held its
// locks until it was resumed or killed: the scripts' pools had no idle-in-transaction bound, and
// the console's own rebuild then waited behind the checkpoint row. Now the server ends such a
// transaction after a minute (OpenOptions.idleInTransactionSeconds); here after one second.
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { openDatabase, SCRIPT_IDLE_IN_TRANSACTION_SECONDS } from "./client";
import { pgUrl } from "../testing/db";

describe.skipIf(!pgUrl)("a script's transaction left idle [postgresql]", () => {
  it("is bounded at a minute by default, on a script's pool (no statement bound) as on the console's", async () => {
    const script = await openDatabase({ url: pgUrl!, poolMax: 1 });
    const console = await openDatabase({ url: pgUrl!, poolMax: 1, statementTimeoutSeconds: 30 });
    try {
      const [s] = await script.sql<{ t: string }>("SELECT current_setting('idle_in_transaction_session_timeout') AS t", []);
      const [c] = await console.sql<{ t: string }>("SELECT current_setting('idle_in_transaction_session_timeout') AS t", []);
      expect(SCRIPT_IDLE_IN_TRANSACTION_SECONDS).toBe(60);
      expect(s!.t).toBe("1min");
      expect(c!.t).toBe("1min");
    } finally {
      await script.close();
      await console.close();
    }
  });

  it("is ended by the server, its locks with it, when the script stops sending; the script's next statement fails", { timeout: 20_000 }, async () => {
    const stopped = await openDatabase({ url: pgUrl!, poolMax: 1, idleInTransactionSeconds: 1 });
    const other = await openDatabase({ url: pgUrl!, poolMax: 1 });
    const key = Math.floor(Math.random() * 1e9);
    try {
      let resume!: () => void;
      const paused = new Promise<void>((r) => (resume = r));
      let locked = false;
      const held = stopped.prisma.$transaction(
        async (tx) => {
          await tx.$queryRawUnsafe(`SELECT pg_advisory_xact_lock(${key})::text AS locked`);
          locked = true;
          await paused; // stopped: nothing sent
          await tx.$queryRawUnsafe("SELECT 1 AS one");
        },
        { timeout: 15_000 },
      );
      held.catch(() => {});
      // Until the script holds the lock (a fixed 200 ms was too short on a loaded CI machine: the
      // connection and BEGIN had not happened yet, and the lock was found free).
      const since = Date.now();
      while (!locked && Date.now() - since < 10_000) await sleep(10);
      const free = async () => (await other.sql<{ ok: boolean }>(`SELECT pg_try_advisory_xact_lock(${key}) AS ok`, []))[0]!.ok;
      expect(await free()).toBe(false);
      const started = Date.now();
      while (!(await free()) && Date.now() - started < 10_000) await sleep(100);
      expect(await free()).toBe(true);
      expect(Date.now() - started).toBeLessThan(5_000);
      resume();
      await expect(held).rejects.toThrow();
    } finally {
      await stopped.close().catch(() => {});
      await other.close();
    }
  });
});
