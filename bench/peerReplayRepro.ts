// The replay row's peer note, checked outside the harness: does Emmett's readMessagesBatch (the
// public API its own consumers page with) return every stored message exactly once after
// concurrent appends? `npx tsx bench/peerReplayRepro.ts` (DATABASE_URL as for the bench; a fresh
// database, dropped at the end). Only Emmett's public API writes and reads; a count(*) of its messages
// table, and a wait until all of them are below its reader's horizon, are the only other SQL.
//
// The cause, in @event-driven-io/emmett-postgresql 0.42.0 (dist/index.js, readMessagesBatch):
//   WHERE ... AND transaction_id < pg_snapshot_xmin(pg_current_snapshot()) AND global_position >= <after + 1>
//   ORDER BY transaction_id, global_position LIMIT <batchSize>
// and the next page starts after the page's LAST message's global_position. A page is ordered by
// transaction id first; when two transactions take positions in the other order (a transaction
// gets its id at its first write, its message positions later), the last message of a page is
// not the highest position in it. The next page then re-reads the higher positions it already
// returned, and never returns messages whose position is below that cursor but that come later
// in transaction order. postgreSQLEventStoreMessageBatchPuller (its consumers) pages the same way.
import { getPostgreSQLEventStore, messagesTable, readMessagesBatch } from "@event-driven-io/emmett-postgresql";
import { dumbo } from "@event-driven-io/dumbo";
import pg from "pg";
import { randomUUID } from "node:crypto";
import { waitUntilVisible } from "./contenders/peer";
import { createBenchDatabases } from "./lib/database";

const base = process.env.DATABASE_URL?.trim() || "postgresql://postgres@127.0.0.1:5432/postgres";
const writers = Number(process.env.REPRO_WRITERS ?? 8);
const appendsPerWriter = Number(process.env.REPRO_APPENDS ?? 300);
const batchSize = Number(process.env.REPRO_BATCH ?? 100);

export type ReproResult = { stored: number; read: number; distinct: number; pagesOutOfOrder: number; pages: number };

export async function reproduce(url: string): Promise<ReproResult> {
  const pool = new pg.Pool({ connectionString: url, max: writers });
  pool.on("error", () => {});
  const driver = dumbo({ connectionString: url, pool });
  const store = getPostgreSQLEventStore(url, { connectionOptions: { dumbo: driver } });
  try {
    await store.schema.migrate();
    // Concurrent appends of 5 messages each to distinct new streams: the same shape as bench row 2.
    await Promise.all(
      Array.from({ length: writers }, async () => {
        for (let i = 0; i < appendsPerWriter; i++) {
          const stream = `repro-${randomUUID()}`;
          await store.appendToStream(stream, Array.from({ length: 5 }, (_, n) => ({ type: "Counted", data: { n } })));
        }
      }),
    );
    const stored = Number((await pool.query(`SELECT count(*) AS n FROM ${messagesTable.name}`)).rows[0].n);
    // Its reader only sees transactions below the server-wide xmin, which any transaction in any
    // database on a shared server holds back: wait until every message is visible to it, so what
    // is missing below is the paging's doing, not the horizon's.
    await waitUntilVisible(pool, stored);
    // Replay the way Emmett's consumers do: after = the last page's currentGlobalPosition.
    const ids: string[] = [];
    let after = 0n;
    let pages = 0;
    let pagesOutOfOrder = 0;
    for (;;) {
      const page = await readMessagesBatch<{ type: string; data: Record<string, unknown> }>(driver.execute, { after, batchSize });
      if (page.messages.length > 0) pages++;
      const positions = page.messages.map((m) => BigInt(m.metadata.globalPosition));
      if (positions.some((p) => p > positions.at(-1)!)) pagesOutOfOrder++;
      ids.push(...page.messages.map((m) => String(m.metadata.messageId)));
      after = page.currentGlobalPosition;
      if (!page.areMessagesLeft) break;
    }
    return { stored, read: ids.length, distinct: new Set(ids).size, pagesOutOfOrder, pages };
  } finally {
    await store.close();
    await pool.end().catch(() => {});
  }
}

async function main() {
  const dbs = await createBenchDatabases(base);
  try {
    const r = await reproduce(dbs.peerUrl);
    console.log(
      `Emmett readMessagesBatch after ${writers} writers × ${appendsPerWriter} appends of 5 (pages of ${batchSize}):\n` +
        `  stored ${r.stored}, read ${r.read} (${r.distinct} distinct, ${r.read - r.distinct} read twice, ${r.stored - r.distinct} never read)\n` +
        `  ${r.pagesOutOfOrder} of ${r.pages} pages ended on a message whose position is not the page's highest`,
    );
  } finally {
    await dbs.drop();
  }
}

if (process.argv[1]?.endsWith("peerReplayRepro.ts")) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
