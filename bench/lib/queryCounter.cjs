// Counts the queries a Node process sends through `pg` (bench/diagnoseHttp.ts): loaded with
// `node --require` into `next start`, where `pg` is an external package, so the app's pool uses
// this very module. Writes the counts (total and by the statement's first words) as JSON to
// QUERY_COUNT_FILE on SIGUSR2. Diagnosis only; the app never loads it.
"use strict";
/* eslint-disable @typescript-eslint/no-require-imports -- loaded by `node --require` before the app, so CommonJS */
const { writeFileSync } = require("node:fs");
// The app's own copy (resolved from its directory), the one its pool was made with.
const pg = require(require.resolve("pg", { paths: [process.cwd()] }));

const counts = { dumps: 0, total: 0, byStatement: {} };
const original = pg.Client.prototype.query;
pg.Client.prototype.query = function query(config, ...rest) {
  const text = typeof config === "string" ? config : config && typeof config.text === "string" ? config.text : "";
  const key = text.replace(/\s+/g, " ").trim().slice(0, 60);
  counts.total++;
  counts.byStatement[key] = (counts.byStatement[key] || 0) + 1;
  return original.call(this, config, ...rest);
};

function dump() {
  counts.dumps++;
  if (process.env.QUERY_COUNT_FILE) writeFileSync(process.env.QUERY_COUNT_FILE, JSON.stringify(counts));
}
if (process.env.QUERY_COUNT_FILE) process.on("SIGUSR2", dump);
module.exports = { counts, dump };
