// Admin: the cluster's metric history for the charts, and the event schema registry. Never
// payloads: counts, durations, schemas and synthetic examples only.
import { z } from "zod";
import { schemaEntries } from "../../domain/schemaRegistry";
import { metricsHistory } from "../../metrics/rollups";
import { adminProcedure, router } from "../trpc";

type CountRow = { event_type: string; event_version: number; n: bigint | string | number };

// The grouped count reads the whole log; an admin page refreshing does not need it fresher.
const countsTtlMs = 30_000;
const countsKey = Symbol.for("emr.schemaCounts");
type GlobalWithCounts = typeof globalThis & { [countsKey]?: { at: number; rows: CountRow[] } };

export const observabilityRouter = router({
  metricsHistory: adminProcedure
    .input(z.object({ range: z.enum(["hour", "day"]).default("hour") }).default({ range: "hour" }))
    .query(async ({ ctx, input }) => {
      const history = await metricsHistory(ctx.db.prisma, input.range);
      return { range: input.range, ...history, generatedAt: new Date() };
    }),

  schemaRegistry: adminProcedure.query(async ({ ctx }) => {
    const g = globalThis as GlobalWithCounts;
    let cached = g[countsKey];
    if (!cached || Date.now() - cached.at > countsTtlMs) {
      const rows = await ctx.db.sql<CountRow>(
        "SELECT event_type, event_version, count(*) AS n FROM events GROUP BY event_type, event_version",
        [],
      );
      cached = { at: Date.now(), rows };
      g[countsKey] = cached;
    }
    const counts = new Map<string, { version: number; count: number }[]>();
    for (const r of cached.rows) {
      const list = counts.get(r.event_type) ?? [];
      list.push({ version: r.event_version, count: Number(r.n) });
      counts.set(r.event_type, list);
    }
    return {
      countedAt: new Date(cached.at),
      types: schemaEntries().map((e) => ({
        ...e,
        jsonSchema: JSON.stringify(e.jsonSchema, null, 2),
        example: e.example ? JSON.stringify(e.example, null, 2) : null,
        stored: (counts.get(e.type) ?? []).sort((a, b) => a.version - b.version),
      })),
    };
  }),
});
