// A projection over the test vocabulary's notes, for runner tests: every event it applies goes
// into rm_note_seen (with who applied it), so "exactly once" is a count, and rm_note_totals
// holds a fold per stream to compare with a fold from scratch.
import { setTimeout as sleep } from "node:timers/promises";
import { prismaRunner, type Db } from "../eventStore";
import type { Projection } from "../projections/types";

export const noteTablesSql = `
  CREATE TABLE IF NOT EXISTS rm_note_seen (event_id uuid NOT NULL, stream_id text NOT NULL, applied_by text NOT NULL);
  CREATE TABLE IF NOT EXISTS rm_note_totals (stream_id text PRIMARY KEY, notes integer NOT NULL, total bigint NOT NULL);`;

export function noteProjection(options: { owner?: string; slowMs?: number; name?: string } = {}): Projection {
  return {
    name: options.name ?? "note_totals",
    description: "Notes per stream (tests)",
    version: 1,
    tables: ["rm_note_seen", "rm_note_totals"],
    eventTypes: ["NoteAdded"],
    async apply(tx: Db, events, target) {
      await prismaRunner(tx)(
        `INSERT INTO ${target.table("rm_note_seen")} (event_id, stream_id, applied_by) SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[])`,
        [events.map((e) => e.metadata.eventId), events.map((e) => e.streamId), events.map(() => options.owner ?? "test")],
      );
      // Slow batches give a SIGKILL something to land in the middle of.
      if (options.slowMs) await sleep(options.slowMs);
      await prismaRunner(tx)(
        `INSERT INTO ${target.table("rm_note_totals")} (stream_id, notes, total)
         SELECT stream_id, count(*), sum(n) FROM unnest($1::text[], $2::int[]) AS u(stream_id, n) GROUP BY stream_id
         ON CONFLICT (stream_id) DO UPDATE SET notes = ${target.table("rm_note_totals")}.notes + EXCLUDED.notes,
                                               total = ${target.table("rm_note_totals")}.total + EXCLUDED.total
         RETURNING 1 AS ok`,
        [events.map((e) => e.streamId), events.map((e) => Number((e.data as { n: number }).n))],
      );
    },
  };
}
