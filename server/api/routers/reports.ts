// The pages over the async projections: order turnaround and the census for clinicians, activity
// by user and day for compliance. Each answer says how far behind the log its projection is.
import { idText } from "../../input";
import { z } from "zod";
import { census } from "../../projections/census";
import { projectionLag } from "../../projections/marks";
import { orderTurnaround } from "../../projections/orderTurnaround";
import { providerNames } from "../../projections/queries";
import { activityReport, censusReport, nightHours, overdueOrders, turnaroundReport } from "../../projections/reports";
import { userActivity } from "../../projections/userActivity";
import { recordAccess } from "../accessLog";
import { clinicianProcedure, complianceProcedure, router } from "../trpc";

/** An IANA time zone both the browser and PostgreSQL know ("Europe/Paris", "UTC"). */
export const timeZoneInput = z
  .string()
  .trim()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_+\-/]+$/, "not a time zone name")
  .refine((tz) => {
    try {
      new Intl.DateTimeFormat("en", { timeZone: tz });
      return true;
    } catch {
      return false;
    }
  }, "unknown time zone")
  .default("UTC");

const OVERDUE_LIMIT = 100;

export const reportsRouter = router({
  /** Turnaround percentiles per day, kind and priority, and the orders open past their threshold. */
  turnaround: clinicianProcedure
    .input(z.object({ days: z.int().min(1).max(90).default(14), timeZone: timeZoneInput }).default({ days: 14, timeZone: "UTC" }))
    .query(async ({ ctx, input }) => {
      const now = new Date();
      const db = ctx.db.prisma;
      const [report, overdue, lag] = await Promise.all([
        turnaroundReport(db, { ...input, now }),
        overdueOrders(db, { now, limit: OVERDUE_LIMIT + 1 }),
        projectionLag(db, orderTurnaround),
      ]);
      const shown = overdue.slice(0, OVERDUE_LIMIT);
      const patientIds = [...new Set(shown.map((o) => o.patientId))];
      const patients = patientIds.length
        ? await db.rmPatient.findMany({ where: { patientId: { in: patientIds } }, select: { patientId: true, mrn: true, givenName: true, familyName: true } })
        : [];
      const byId = new Map(patients.map((p) => [p.patientId, p]));
      await recordAccess(ctx, { procedure: "reports.turnaround", patientIds });
      return {
        ...report,
        now,
        overdue: shown.map((o) => {
          const p = byId.get(o.patientId);
          return { ...o, patient: p ? { mrn: p.mrn, name: [p.givenName, p.familyName].filter(Boolean).join(" ") } : null };
        }),
        overdueTruncated: overdue.length > OVERDUE_LIMIT,
        lag,
      };
    }),

  /** Open encounters by type and attending provider; admissions and discharges today. */
  census: clinicianProcedure.input(z.object({ timeZone: timeZoneInput }).default({ timeZone: "UTC" })).query(async ({ ctx, input }) => {
    const now = new Date();
    const db = ctx.db.prisma;
    const [report, lag] = await Promise.all([censusReport(db, { ...input, now }), projectionLag(db, census)]);
    const names = await providerNames(db, report.byProvider.map((p) => p.providerId));
    return {
      ...report,
      byProvider: report.byProvider.map((p) => ({ ...p, providerName: names[p.providerId] ?? null })),
      now,
      lag,
    };
  }),

  /** Events per user and day (distinct patients, night events), and by hour of day; names, not ids. */
  activity: complianceProcedure
    .input(
      z
        .object({ days: z.int().min(1).max(90).default(14), timeZone: timeZoneInput, userId: idText.optional() })
        .default({ days: 14, timeZone: "UTC" }),
    )
    .query(async ({ ctx, input }) => {
      const now = new Date();
      const db = ctx.db.prisma;
      const [report, lag] = await Promise.all([activityReport(db, { ...input, now }), projectionLag(db, userActivity)]);
      const names = await providerNames(db, report.userIds);
      return { ...report, users: report.userIds.map((id) => ({ id, name: names[id] ?? null })), nightHours, now, lag };
    }),
});
