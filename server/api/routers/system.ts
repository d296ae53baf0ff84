import { migrationStatus } from "../../db/migrate";
import { publicProcedure, router } from "../trpc";

export const systemRouter = router({
  /** What the console shows on its home page: where the data lives and how far it is migrated. */
  health: publicProcedure.query(async ({ ctx }) => {
    const [status, counts] = await Promise.all([
      migrationStatus(ctx.db),
      ctx.db.prisma.$queryRawUnsafe<{ events: bigint | null; streams: bigint; now: Date }[]>(
        // Each stream's version is its event count, so this is exact without scanning events.
        "SELECT sum(version)::bigint AS events, count(*)::bigint AS streams, now() AS now FROM streams",
      ),
    ]);
    const row = counts[0];
    return {
      mode: ctx.db.mode,
      location: ctx.db.mode === "embedded" ? ctx.db.location : "PostgreSQL",
      migration: { latest: status.latest, applied: status.applied.length, pending: status.pending.length },
      eventCount: Number(row?.events ?? 0),
      streamCount: Number(row?.streams ?? 0),
      serverTime: row?.now ?? new Date(),
    };
  }),
});
