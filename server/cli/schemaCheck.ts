// npm run schema:check [-- --update] [--snapshot=<file>]: compares every event type's schema with
// the committed snapshot (server/domain/schemas.snapshot.json) and fails when a stored event's
// shape changed without a version bump and upcasters. --update writes the snapshot after a
// legitimate bump (or a new type), and refuses while an illegal change is present.
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { eventDefinitions } from "../domain/registry";
import { checkSchemas, snapshotOf, type SchemaSnapshot } from "../domain/schemaRegistry";

const args = process.argv.slice(2);
const unknown = args.filter((a) => a !== "--update" && !a.startsWith("--snapshot="));
if (unknown.length > 0) {
  console.error(`unknown argument ${unknown[0]}\nusage: npm run schema:check [-- --update] [--snapshot=<file>]`);
  process.exit(2);
}
const update = args.includes("--update");
const file = args.find((a) => a.startsWith("--snapshot="))?.slice("--snapshot=".length) ?? join(process.cwd(), "server", "domain", "schemas.snapshot.json");

const snapshot: SchemaSnapshot = existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as SchemaSnapshot) : {};
const problems = checkSchemas(eventDefinitions, snapshot);
const illegal = problems.filter((p) => p.kind === "illegal");

for (const p of problems) console.log(`${p.kind === "illegal" ? "ERROR" : "note "}  ${p.message}`);
if (illegal.length > 0) {
  console.log(`\nschema:check: ${illegal.length} event schema change(s) would make stored events unreadable or silently reinterpreted.`);
  console.log("Bump the event's version in defineEvent, add an upcaster from the old version, then run npm run schema:check -- --update.");
  process.exit(1);
}
if (update) {
  writeFileSync(file, `${JSON.stringify(snapshotOf(eventDefinitions), null, 2)}\n`);
  console.log(`schema:check: wrote ${Object.keys(snapshotOf(eventDefinitions)).length} event schemas to ${file}`);
  process.exit(0);
}
if (problems.length > 0) {
  console.log("\nschema:check: the snapshot is out of date: run npm run schema:check -- --update and commit it.");
  process.exit(1);
}
console.log(`schema:check: ${Object.keys(snapshot).length} event schemas match the snapshot`);
