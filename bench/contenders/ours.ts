// Ours: the project's own functions, the path the app takes (openDatabase's client and driver, the
// registry's zod encode/decode, append_to_stream with its concurrency check and outbox rows,
// the snapshot-aware aggregate loader, the gap-safe global log reader).
import { openDatabase, type Database } from "../../server/db/client";
import { migrate } from "../../server/db/migrate";
import { ConcurrencyError } from "../../server/errors";
import { loadAggregate, loadAtVersion } from "../../server/eventStore/aggregate";
import { appendToStream } from "../../server/eventStore/append";
import { storeOn, type Store } from "../../server/eventStore/db";
import { streamAll, streamVersion } from "../../server/eventStore/read";
import { saveSnapshot } from "../../server/eventStore/snapshots";
import { sealState } from "../../server/eventStore/protect";
import { aggregateType, benchDecider, benchRegistry, foldReplay, initialReplay } from "../lib/events";
import { installStockParsers } from "../lib/pgTypes";
import type { Contender } from "./contender";

export async function openOurs(url: string, poolMax: number): Promise<Contender & { database: Database; store: Store }> {
  const database = await openDatabase({ url, poolMax });
  await migrate(database);
  // As the app builds it (server/api/context.ts storeFor): statements outside transactions go
  // to the driver that openDatabase attached to this client.
  const store: Store = storeOn(database, benchRegistry);
  return {
    name: "ours",
    database,
    store,
    enter: installStockParsers,
    async append(streamId, events, expected) {
      try {
        const result = await appendToStream(store, streamId, events, {
          expectedVersion: expected === 0 ? "no_stream" : expected,
          aggregateType,
        });
        return { ok: true, version: result.nextExpectedVersion };
      } catch (error) {
        if (error instanceof ConcurrencyError) return { ok: false, actual: error.actualVersion };
        throw error;
      }
    },
    version: (streamId) => streamVersion(store, streamId),
    async load(streamId, useSnapshot) {
      const loaded = await loadAggregate(store, streamId, benchDecider, { useSnapshots: useSnapshot });
      return { state: loaded.state, version: loaded.version };
    },
    async saveSnapshot(streamId, version, state) {
      // Sealed as the app seals one (handleCommand): a patient's snapshot in clear is not used.
      await saveSnapshot(store.db, {
        streamId,
        aggregateType,
        snapshotType: benchDecider.aggregateType,
        stateVersion: benchDecider.stateVersion,
        version,
        state: await sealState(store, { streamId, version, stateVersion: benchDecider.stateVersion }, benchDecider.aggregateType, state),
      });
      return true;
    },
    async stateAt(streamId, version) {
      return (await loadAtVersion(store, streamId, benchDecider, version, { useSnapshots: false })).state;
    },
    async count() {
      const rows = await database.prisma.$queryRawUnsafe<{ n: bigint }[]>("SELECT count(*) AS n FROM events");
      return Number(rows[0]?.n ?? 0);
    },
    async vacuumLog() {
      await database.prisma.$executeRawUnsafe("VACUUM (ANALYZE) events, streams, outbox");
    },
    async replay(pageSize) {
      // The bulk read path: pages streamed in commit order, trusted decode (see decodeTrusted).
      const state = initialReplay();
      for await (const page of streamAll(store, { pageSize, decode: "trusted" })) {
        for (const e of page.events) foldReplay(state, e.type, e.streamId);
      }
      return state;
    },
    close: () => database.close(),
  };
}
