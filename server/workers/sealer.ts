// The audit sealer: like a projection it follows the global log in commit order, and seals what
// is new into signed checkpoints (server/eventStore/integrity.ts). Several may run: a seal's
// number is its primary key, so only one of two racing sealers writes each seal.
import type { KeyObject } from "node:crypto";
import { sealLog, type Store } from "../eventStore";

export type SealerOptions = { signal: AbortSignal; everyMs: number; log?: (line: string) => void };

export async function runSealerLoop(store: Store, key: KeyObject, options: SealerOptions): Promise<void> {
  const log = options.log ?? (() => {});
  while (!options.signal.aborted) {
    try {
      const { sealed, seals } = await sealLog(store, key);
      if (seals > 0) log(`audit: sealed ${sealed} events in ${seals} seal${seals === 1 ? "" : "s"}`);
    } catch (error) {
      log(`audit: sealing failed (${(error as Error).name})`);
    }
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, options.everyMs);
      options.signal.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true });
    });
  }
}
