// An audit extract consumed in a process of its own, for the bounded-memory test
// (exportMemory.int.test.ts): tsx exportMemory.fixture.ts <database url> <format>
// Prints one JSON line: rows and bytes written, and the process's peak RSS and heap while it ran.
import { openDatabase } from "../db/client";
import { storeFor } from "../api/context";
import { startExport, type ExportFormat } from "./export";

const [url, format] = process.argv.slice(2);
const db = await openDatabase({ url, poolMax: 2 });
const user = { id: "officer-memory", email: "officer@test.invalid", name: "Memory Officer", roles: ["compliance" as const] };
const started = await startExport({ db, store: storeFor(db), user, correlationId: "memory-test" }, { view: "events", format: format as ExportFormat });
global.gc?.();
const baseline = process.memoryUsage();
let peakRss = baseline.rss;
let peakHeap = baseline.heapUsed;
let bytes = 0;
let lines = 0;
for await (const chunk of started.chunks) {
  bytes += chunk.length;
  for (let i = chunk.indexOf("\n"); i >= 0; i = chunk.indexOf("\n", i + 1)) lines++;
  const m = process.memoryUsage();
  peakRss = Math.max(peakRss, m.rss);
  peakHeap = Math.max(peakHeap, m.heapUsed);
}
await db.close();
console.log(JSON.stringify({ lines, bytes, baselineRss: baseline.rss, peakRss, baselineHeap: baseline.heapUsed, peakHeap }));
