// npm run audit:verify: recomputes every event's hash and every seal of the log, checks the
// seals' signatures, and names the first event or seal that does not match. Exit code 0 when the
// log verifies, 1 when it does not, 2 when it could not run.
//   --public-key FILE   verify with the public key(s) in FILE (PEM) instead of the configured ones (the
//                       signing key's and AUDIT_VERIFY_PUBLIC_KEYS); may be given more than once, as
//                       after a key rotation each seal verifies with the key that signed it
//   --witness FILE      a seal known outside the database (the sealer's witness file, or the seal
//                       object of an extract, JSON): it must still be in the log as it was signed;
//                       may be given more than once. The sealer's own witness file
//                       (AUDIT_WITNESS_FILE, default .data/audit-witness.json) is read when present.
//   --extract FILE      verify an audit extract (CSV, NDJSON or FHIR Bundle) instead of the log: its
//                       trailer's signature and the SHA-256 of its bytes (no database is opened);
//                       may be given more than once
//   --seal              seal what is unsealed first (needs the signing key; refused when a witnessed seal is gone)
//   --json              print the report as JSON
//   --accept-restore --reason TEXT
//                       a backup was restored on purpose, so a witnessed seal is gone: when the log as
//                       restored verifies, record the acceptance in the log (who, why), set the
//                       witnessed seal aside in the witness file and witness the newest seal there is
import { createReadStream, readFileSync } from "node:fs";
import type { KeyObject } from "node:crypto";
import { userInfo } from "node:os";
import { openDatabase } from "../db/client";
import { env, withoutAppSecrets } from "../db/env";
import { storeFor } from "../api/context";
import { keyIdOf, sealLog, verifyLog } from "../eventStore";
import { distinctKeys, parsePublicKeys, resolveSigningKey, verifyingKeys } from "../audit/signingKey";
import { extractVerifier } from "../audit/extractVerify";
import { keyChangeMessage } from "../workers/sealer";
import { acceptRestore } from "../audit/restore";
import { notCovered } from "../../shared/audit/unhashed";
import { fileWitness, parseWitness, witnessesIn, witnessFileFor, witnessKeyOf, type SealWitness } from "../audit/witness";
import { flushRollupsAtExit } from "../metrics/rollups";

const usage =
  "usage: npm run audit:verify -- [--public-key FILE]... [--witness FILE]... [--extract FILE]... [--seal] [--json]\n" +
  '       npm run audit:verify -- --accept-restore --reason "what was restored, from when, why" [--public-key FILE]...';
const withValue = new Set(["--public-key", "--witness", "--extract", "--reason"]);
const flags = new Set(["--seal", "--json", "--accept-restore"]);

export type AuditVerifyArgs = { publicKeys: string[]; witnesses: string[]; extracts: string[]; seal: boolean; json: boolean; acceptRestore?: { reason: string } };

/** The arguments, checked: an unknown or misspelt flag is refused, not ignored. */
export function parseAuditVerifyArgs(argv: readonly string[]): AuditVerifyArgs {
  const out: AuditVerifyArgs = { publicKeys: [], witnesses: [], extracts: [], seal: false, json: false };
  let accept = false;
  let reason: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (withValue.has(a)) {
      const value = argv[++i];
      if (value === undefined || value.startsWith("--")) throw new Error(`${a} needs ${a === "--reason" ? "a text" : "a file"}\n${usage}`);
      if (a === "--public-key") out.publicKeys.push(value);
      else if (a === "--extract") out.extracts.push(value);
      else if (a === "--reason") reason = value;
      else out.witnesses.push(value);
    } else if (flags.has(a)) {
      if (a === "--seal") out.seal = true;
      else if (a === "--accept-restore") accept = true;
      else out.json = true;
    } else throw new Error(`unknown argument ${a}\n${usage}`);
  }
  if (accept !== (reason !== undefined)) throw new Error(`--accept-restore and --reason go together\n${usage}`);
  if (accept && (out.seal || out.witnesses.length > 0 || out.extracts.length > 0)) throw new Error(`--accept-restore takes no --seal, --witness or --extract\n${usage}`);
  if (accept && reason!.trim() === "") throw new Error(`--reason must say what was restored, from when and why\n${usage}`);
  if (accept) out.acceptRestore = { reason: reason! };
  return out;
}

async function main() {
  const args = parseAuditVerifyArgs(process.argv.slice(2));
  // An auditor runs this: it reads hashes and seals, never a payload, so no app secret.
  withoutAppSecrets();
  const e = env();
  // The files named first: a missing one stops here, before a development key is made.
  const given = distinctKeys(args.publicKeys.flatMap((file) => parsePublicKeys(readFileSync(file, "utf8"), `--public-key ${file}`)));
  const witnesses: SealWitness[] = args.witnesses.map((file) => parseWitness(readFileSync(file, "utf8"), file));
  const ownWitness = witnessFileFor(e);
  const signingKey = args.seal ? resolveSigningKey(e) : null;
  // The keys named here, or the server's: its signing key's and the earlier ones it was given.
  const keys = given.length > 0 ? given : verifyingKeys(e);
  if (keys.length === 0) throw new Error("No key to verify seals with: set AUDIT_SIGNING_KEY (and AUDIT_VERIFY_PUBLIC_KEYS) or pass --public-key FILE");
  if (args.extracts.length > 0) {
    if (args.seal || args.witnesses.length > 0) throw new Error(`--extract checks files, not the log: it takes neither --seal nor --witness\n${usage}`);
    await verifyExtracts(args.extracts, keys, args.json);
    return;
  }
  const db = await openDatabase({ url: e.DATABASE_URL, dataDir: e.PGLITE_DIR, poolMax: 2 });
  try {
    const where = await witnessKeyOf(db);
    const own = witnessesIn(ownWitness, where);
    const named = witnesses.length;
    witnesses.push(...own.witnesses);
    const store = storeFor(db);
    if (args.acceptRestore) {
      const by = `cli:${userInfo().username}`;
      const done = await acceptRestore(db, store, keys, ownWitness, { reason: args.acceptRestore.reason, by });
      console.log(
        `restore accepted by ${by}, recorded as event ${done.eventId}: witnessed seal ${done.witnessed.seq} set aside in ${ownWitness}; ` +
          (done.baseline ? `seal ${done.baseline.seq} is the new baseline` : "the database holds no seal: the sealer's next seal is the new baseline"),
      );
      return;
    }
    if (args.seal) {
      if (!signingKey) throw new Error("--seal needs AUDIT_SIGNING_KEY");
      const sealed = await sealLog(store, signingKey, {
        witness: fileWitness(ownWitness, db),
        verifyWith: keys,
        onKeyChange: (change) => console.warn(keyChangeMessage(change)),
      });
      console.log(`sealed ${sealed.sealed} events in ${sealed.seals} seals`);
    }
    const tty = process.stdout.isTTY;
    const report = await verifyLog(store, keys, {
      witnesses,
      onProgress: (done, total) => {
        if (tty) process.stdout.write(`\rseals: ${done.toLocaleString("en")} of ${total.toLocaleString("en")} events rechained`);
      },
    });
    if (tty) process.stdout.write("\n");
    if (args.json) {
      console.log(JSON.stringify(report, null, 2));
    } else {
      console.log(
        `${report.eventsChecked} events (${report.eventsWithoutHash} from before hashing), ${report.streamsChecked} streams, ` +
          `${report.sealsChecked} seals checked; ${report.eventsUnsealed} events not sealed yet`,
      );
      // Which keys vouched for the seals, and whose word they are: the server's settings can be
      // changed by whoever runs it, so an auditor compares the ids with the published key.
      console.log(
        `seals checked with key${keys.length === 1 ? "" : "s"} ${keys.map(keyIdOf).join(", ")} ` +
          (given.length > 0 ? "(--public-key)" : "(the server's AUDIT_SIGNING_KEY and AUDIT_VERIFY_PUBLIC_KEYS: compare them with the published key, or pass --public-key)"),
      );
      if (named > 0) console.log(`seals witnessed outside the database (--witness): ${witnesses.slice(0, named).map((w) => w.seq).join(", ")}`);
      if (own.summary) console.log(`${own.summary} [${ownWitness}]`);
      if (witnesses.length === 0 && !own.summary) {
        console.log(`no seal witnessed outside the database (nothing in ${ownWitness}, no --witness): a log whose seals were all deleted would read as never sealed`);
      }
      if (report.eventsWithoutHash > 0) console.log(`${notCovered(report.eventsWithoutHash)} (README: "Events from before hashing")`);
      if (report.ok) {
        console.log(
          report.eventsWithoutHash > 0
            ? "the log verifies: every hashed event matches its hash, every seal its events and signature"
            : "the log verifies: every event matches its hash, every seal its events and signature",
        );
      }
      else for (const problem of report.problems) console.log(`NOT OK  ${problem.message}`);
    }
    process.exitCode = report.ok ? 0 : 1;
  } finally {
    await flushRollupsAtExit(db.prisma);
    await db.close();
  }
}

/** Each extract against the keys, read a piece at a time: its signature, then its bytes; exit code 1 when any fails. */
async function verifyExtracts(files: readonly string[], keys: KeyObject[], json: boolean) {
  const results = [];
  for (const file of files) {
    const verifier = extractVerifier(keys);
    for await (const chunk of createReadStream(file)) verifier.update(chunk as Buffer);
    results.push({ file, ...verifier.finish() });
  }
  if (json) console.log(JSON.stringify(results, null, 2));
  for (const r of json ? [] : results) {
    console.log(r.ok ? `OK      ${r.file}: ${r.format} extract ${r.exportId}, ${r.rows} rows, sha256 ${r.sha256}, signed by key ${r.keyId}` : `NOT OK  ${r.file}: ${r.problem}`);
  }
  process.exitCode = results.every((r) => r.ok) ? 0 : 1;
}

if (process.argv[1] && /auditVerify\.ts$/.test(process.argv[1])) {
  main().catch((error: unknown) => {
    console.error((error as Error).message);
    process.exit(2);
  });
}
