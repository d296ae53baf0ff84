// Admin: the projections, their health, and rebuilds (started here, run in this process in the
// background, followed by polling `rebuild`). Never event payloads: names, counts, positions, errors.
import { operatorReason } from "../../input";
import { z } from "zod";
import { NotFoundError } from "../../errors";
import { allProjections } from "../../projections/registry";
import { cancelRebuild, isStalled, rebuildById, runRebuild, startRebuild } from "../../projections/rebuild";
import { providerNames } from "../../projections/queries";
import { projectionStatuses } from "../../projections/status";
import { adminProcedure, router } from "../trpc";
import { componentLogger, errorFields } from "../../log";

const projectionName = z.string().trim().min(1, "a projection name is needed").max(100).regex(/^[a-z0-9_]+$/, "projection names are snake_case");
const rebuildId = z.uuid("rebuild id must be a uuid");

export const projectionsRouter = router({
  list: adminProcedure.query(({ ctx }) => projectionStatuses(ctx.db.prisma, allProjections)),

  rebuild: adminProcedure
    .input(
      z.object({
        name: projectionName,
        reason: operatorReason(),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const started = await startRebuild(ctx.store, input.name, { reason: input.reason, userId: ctx.user.id, correlationId: ctx.correlationId });
      // Runs on in this process after the answer; the page follows it through `rebuildProgress`.
      void runRebuild(ctx.store, started).then(
        (result) =>
          componentLogger("projections").info(
            { projection: started.projection.name, rebuildId: started.rebuildId, status: result.status, events: result.eventsDone, durationMs: Math.round(result.durationMs) },
            `projection ${started.projection.name}: rebuild ${result.status} (${result.eventsDone} events, ${Math.round(result.durationMs)} ms)`,
          ),
        (error: unknown) => {
          // Names and codes only: a crash's message can quote the row it failed on.
          const fields = errorFields(error);
          componentLogger("projections").error(
            { projection: started.projection.name, rebuildId: started.rebuildId, ...fields },
            `projection ${started.projection.name}: rebuild crashed (${fields.error}${fields.code ? ` ${fields.code}` : ""})`,
          );
        },
      );
      return { rebuildId: started.rebuildId, eventsTotal: started.eventsTotal };
    }),

  rebuildProgress: adminProcedure.input(z.object({ rebuildId })).query(async ({ ctx, input }) => {
    const row = await rebuildById(ctx.db.prisma, input.rebuildId);
    if (!row) throw new NotFoundError("rebuild", input.rebuildId);
    // Who started it, by name: the page showed the user id. Null when the account is gone.
    const startedByName = (await providerNames(ctx.db.prisma, [row.startedBy]))[row.startedBy] ?? null;
    const total = Math.max(row.eventsTotal, row.eventsDone);
    const left = Math.max(0, total - row.eventsDone);
    return {
      ...row,
      startedByName,
      eventsTotal: total,
      percent: row.status === "finished" ? 100 : total === 0 ? 0 : Math.min(99, Math.floor((row.eventsDone / total) * 100)),
      etaSeconds: row.status === "running" && row.eventsPerSecond > 0 && !isStalled(row) ? left / row.eventsPerSecond : null,
      stalled: isStalled(row),
    };
  }),

  cancelRebuild: adminProcedure.input(z.object({ rebuildId })).mutation(async ({ ctx, input }) => {
    await cancelRebuild(ctx.store, input.rebuildId);
    return { rebuildId: input.rebuildId };
  }),
});
