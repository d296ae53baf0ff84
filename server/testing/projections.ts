// Test help for async projections: tables of their own for one test (the way a rebuild points a
// projection at shadow tables), batches cut anywhere, and a whole-log catch-up.
import { randomUUID } from "node:crypto";
import type { Database } from "../db/client";
import { readAll, type Store, type StoredEvent } from "../eventStore";
import type { Projection, ProjectionTarget } from "../projections/types";
import { withOwner } from "./db";

/**
 * Copies of the projection's tables (LIKE ... INCLUDING ALL) under a fresh prefix, so a test's
 * rows never meet another test's or a runner's. DDL: made by the owner (the app's role may not),
 * and the owner's default privileges let the app's role write them.
 */
export async function privateTarget(db: Database, projection: Projection): Promise<{ target: ProjectionTarget; drop: () => Promise<void> }> {
  const prefix = `t${randomUUID().replace(/-/g, "").slice(0, 10)}_`;
  const kind = db.mode === "postgresql" ? "postgresql" : "embedded";
  await withOwner(kind, db, async (sql) => {
    for (const table of projection.tables) await sql(`CREATE TABLE ${prefix}${table} (LIKE ${table} INCLUDING ALL)`);
  });
  return {
    target: { table: (name) => `${prefix}${name}` },
    drop: () =>
      withOwner(kind, db, async (sql) => {
        for (const table of projection.tables) await sql(`DROP TABLE IF EXISTS ${prefix}${table}`);
      }),
  };
}

/** Applies the events in batches cut after each index in `cuts`, each batch in its own transaction. */
export async function applyInBatches(
  db: Database,
  projection: Projection,
  events: readonly StoredEvent[],
  target: ProjectionTarget,
  cuts: readonly number[] = [],
): Promise<void> {
  const bounds = [...new Set(cuts.filter((c) => c > 0 && c < events.length))].sort((a, b) => a - b);
  let start = 0;
  for (const end of [...bounds, events.length]) {
    const batch = events.slice(start, end);
    const types = projection.eventTypes;
    const wanted = types ? batch.filter((e) => types.includes(e.type)) : batch;
    if (wanted.length > 0) await db.prisma.$transaction((tx) => projection.apply(tx, wanted, target), { timeout: 30_000 });
    start = end;
  }
}

/**
 * Reads the whole log in commit order and applies every projection to its live tables, from the
 * start. For a database that no projection runner has touched (a freshly seeded one).
 */
export async function projectWholeLog(store: Store, db: Database, projections: readonly Projection[], target?: ProjectionTarget): Promise<number> {
  let after = null;
  let total = 0;
  for (;;) {
    const page = await readAll(store, { after, limit: 1000 });
    if (page.events.length === 0) return total;
    for (const projection of projections) {
      await applyInBatches(db, projection, page.events, target ?? { table: (name) => name });
    }
    total += page.events.length;
    after = page.checkpoint;
  }
}
