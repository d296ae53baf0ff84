// Peer: Emmett's PostgreSQL event store (@event-driven-io/emmett-postgresql), on its own fresh
// database with its own schema, called through its public API the way its docs show.
import { isExpectedVersionConflictError } from "@event-driven-io/emmett";
import { getPostgreSQLEventStore, messagesTable, readMessagesBatch, streamsTable } from "@event-driven-io/emmett-postgresql";
import { dumbo } from "@event-driven-io/dumbo";
import pg from "pg";
import type { NewEvent } from "../../server/eventStore/types";
import { evolve, foldReplay, initialReplay, initialState, type BenchState } from "../lib/events";
import { capturePeerParsers, installPeerParsers } from "../lib/pgTypes";
import type { Contender } from "./contender";

type PeerEvent = { type: string; data: Record<string, unknown>; metadata: Record<string, unknown> };

// The same envelope our events carry, in Emmett's metadata (messageId is its event id).
const toPeer = (e: NewEvent): PeerEvent => ({
  type: e.type,
  data: e.data,
  metadata: {
    messageId: e.eventId,
    occurredAt: e.occurredAt.toISOString(),
    userId: e.userId,
    correlationId: e.correlationId,
    causationId: e.causationId,
  },
});

/**
 * Waits (up to a minute) until `stored` messages lie below the server-wide snapshot xmin, the
 * horizon Emmett's reader cuts at: any transaction in any database on a shared server holds it
 * back, and a replay then ends early without having skipped anything.
 */
export async function waitUntilVisible(pool: pg.Pool, stored: number): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const { rows } = await pool.query(
      `SELECT count(*) AS n FROM ${messagesTable.name} WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot())`,
    );
    if (Number(rows[0].n) >= stored) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("the server's oldest transaction held the peer's messages back for a minute");
}

export async function openPeer(url: string, poolMax: number): Promise<Contender> {
  const pool = new pg.Pool({ connectionString: url, max: poolMax });
  pool.on("error", () => {});
  const driver = dumbo({ connectionString: url, pool });
  const store = getPostgreSQLEventStore(url, { connectionOptions: { dumbo: driver } });
  await store.schema.migrate();
  capturePeerParsers();
  const fold = (s: BenchState, e: { type: string; data: unknown }) => evolve(s, { type: e.type, data: e.data as Record<string, unknown> });
  return {
    name: "peer",
    enter: installPeerParsers,
    async append(streamId, events, expected) {
      try {
        const result = await store.appendToStream<PeerEvent>(streamId, events.map(toPeer), {
          expectedStreamVersion: BigInt(expected),
        });
        return { ok: true, version: Number(result.nextExpectedStreamVersion) };
      } catch (error) {
        // Emmett's conflict error does not carry the actual version (it reports -1).
        if (isExpectedVersionConflictError(error)) return { ok: false, actual: null };
        throw error;
      }
    },
    async version(streamId) {
      // Emmett has no cheap "current version" call (readStream reads every event), so the
      // bench reads its streams table directly: a favour to the peer.
      const r = await pool.query<{ p: bigint | string }>(
        `SELECT stream_position AS p FROM ${streamsTable.name} WHERE stream_id = $1 AND is_archived = FALSE`,
        [streamId],
      );
      return Number(r.rows[0]?.p ?? 0);
    },
    async load(streamId) {
      // No snapshots in Emmett's PostgreSQL store: a load always folds the whole stream.
      const result = await store.aggregateStream<BenchState, PeerEvent>(streamId, { evolve: fold, initialState });
      return { state: result.state, version: Number(result.currentStreamVersion) };
    },
    saveSnapshot: async () => false,
    async stateAt(streamId, version) {
      const result = await store.readStream<PeerEvent>(streamId, { to: BigInt(version) });
      return result.events.reduce((s, e) => (e ? fold(s, e) : s), initialState());
    },
    async count() {
      const r = await pool.query<{ n: bigint | string }>(`SELECT count(*) AS n FROM ${messagesTable.name}`);
      return Number(r.rows[0]?.n ?? 0);
    },
    untilVisible: (stored) => waitUntilVisible(pool, stored),
    vacuumLog: async () => void (await pool.query(`VACUUM (ANALYZE) ${messagesTable.name}, ${streamsTable.name}`)),
    async replay(pageSize) {
      const state = initialReplay();
      let after = 0n;
      for (;;) {
        const page = await readMessagesBatch<PeerEvent>(driver.execute, { after, batchSize: pageSize });
        for (const m of page.messages) foldReplay(state, m.type, m.metadata.streamName);
        after = page.currentGlobalPosition;
        if (!page.areMessagesLeft) return state;
      }
    },
    async close() {
      await store.close();
      await pool.end();
    },
  };
}
