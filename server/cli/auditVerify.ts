// npm run audit:verify: recomputes every event's hash and every seal of the log, checks the
// seals' signatures, and names the first event or seal that does not match. Exit code 0 when the
// log verifies, 1 when it does not, 2 when it could not run.
//   --public-key FILE   verify with this public key (PEM) instead of the configured signing key's
//   --seal              seal what is unsealed first (needs the signing key)
//   --json              print the report as JSON
import { createPublicKey, type KeyObject } from "node:crypto";
import { readFileSync } from "node:fs";
import { openDatabase } from "../db/client";
import { env } from "../db/env";
import { storeFor } from "../api/context";
import { sealLog, verifyLog } from "../eventStore";
import { resolveSigningKey } from "../audit/signingKey";

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main() {
  const e = env();
  const signingKey = resolveSigningKey(e);
  const publicFile = arg("--public-key");
  const keys: KeyObject[] = publicFile
    ? [createPublicKey(readFileSync(publicFile, "utf8"))]
    : signingKey
      ? [createPublicKey(signingKey)]
      : [];
  if (keys.length === 0) throw new Error("No key to verify seals with: set AUDIT_SIGNING_KEY or pass --public-key FILE");
  const db = await openDatabase({ url: e.DATABASE_URL, dataDir: e.PGLITE_DIR, poolMax: 2 });
  try {
    const store = storeFor(db);
    if (process.argv.includes("--seal")) {
      if (!signingKey) throw new Error("--seal needs AUDIT_SIGNING_KEY");
      const sealed = await sealLog(store, signingKey);
      console.log(`sealed ${sealed.sealed} events in ${sealed.seals} seals`);
    }
    const tty = process.stdout.isTTY;
    const report = await verifyLog(store, keys, {
      onProgress: (done, total) => {
        if (tty) process.stdout.write(`\rseals: ${done.toLocaleString("en")} of ${total.toLocaleString("en")} events rechained`);
      },
    });
    if (tty) process.stdout.write("\n");
    if (process.argv.includes("--json")) {
      console.log(JSON.stringify(report, null, 2));
    } else {
      console.log(
        `${report.eventsChecked} events (${report.eventsWithoutHash} from before hashing), ${report.streamsChecked} streams, ` +
          `${report.sealsChecked} seals checked; ${report.eventsUnsealed} events not sealed yet`,
      );
      if (report.ok) console.log("the log verifies: every event matches its hash, every seal its events and signature");
      else for (const problem of report.problems) console.log(`NOT OK  ${problem.message}`);
    }
    process.exitCode = report.ok ? 0 : 1;
  } finally {
    await db.close();
  }
}

main().catch((error: unknown) => {
  console.error((error as Error).message);
  process.exit(2);
});
