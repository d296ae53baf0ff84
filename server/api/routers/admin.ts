// Admin: the machinery's health. The outbox: how far behind it is, what keeps failing, and
// putting a dead letter back in line. Never event payloads: ids, types, counts and error summaries.
import { z } from "zod";
import { NotFoundError } from "../../errors";
import { adminProcedure, router } from "../trpc";

type StatsRow = { pending: bigint | string | number; retrying: bigint | string | number; dead: bigint | string | number; lag: number | string | null };
type DeadRow = { id: bigint | string | number; event_id: string; event_type: string; attempts: number; last_error: string | null; dead_lettered_at: Date };

export const adminRouter = router({
  outbox: adminProcedure.query(async ({ ctx }) => {
    const sql = ctx.db.sql;
    const [stats] = await sql<StatsRow>(
      `SELECT count(*) FILTER (WHERE processed_at IS NULL AND dead_lettered_at IS NULL) AS pending,
              count(*) FILTER (WHERE processed_at IS NULL AND dead_lettered_at IS NULL AND attempts > 0) AS retrying,
              count(*) FILTER (WHERE dead_lettered_at IS NOT NULL) AS dead,
              extract(epoch FROM now() - min(created_at) FILTER (WHERE processed_at IS NULL AND dead_lettered_at IS NULL))::float8 AS lag
         FROM outbox
        WHERE processed_at IS NULL`,
      [],
    );
    const dead = await sql<DeadRow>(
      `SELECT id, event_id::text AS event_id, event_type, attempts, last_error, dead_lettered_at
         FROM outbox WHERE dead_lettered_at IS NOT NULL AND processed_at IS NULL
        ORDER BY dead_lettered_at DESC, id DESC LIMIT 20`,
      [],
    );
    return {
      pending: Number(stats?.pending ?? 0),
      /** Seconds since the oldest pending row was written (0 when none is pending). */
      lagSeconds: stats?.lag == null ? 0 : Math.max(0, Number(stats.lag)),
      retrying: Number(stats?.retrying ?? 0),
      deadLettered: Number(stats?.dead ?? 0),
      deadLetters: dead.map((r) => ({
        id: Number(r.id),
        eventId: r.event_id,
        eventType: r.event_type,
        attempts: r.attempts,
        lastError: r.last_error,
        deadLetteredAt: r.dead_lettered_at,
      })),
    };
  }),

  retryDeadLetter: adminProcedure
    .input(z.object({ id: z.number().int().positive() }))
    .mutation(async ({ ctx, input }) => {
      const rows = await ctx.db.sql<{ id: unknown }>(
        `UPDATE outbox SET dead_lettered_at = NULL, next_retry_at = now(), attempts = 0
          WHERE id = $1 AND dead_lettered_at IS NOT NULL AND processed_at IS NULL
          RETURNING id`,
        [input.id],
      );
      if (rows.length === 0) throw new NotFoundError("dead letter", String(input.id));
      return { id: input.id };
    }),
});
