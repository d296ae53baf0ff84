// The pages over the async projections: order turnaround and the census for clinicians, activity
// by user and day for compliance. Each answer says how far behind the log its projection is.
import { idText } from "../../input";
import { z } from "zod";
import type { Database } from "../../db/client";
import { ValidationError } from "../../errors";
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

/**
 * The zone names PostgreSQL knows, lower-cased (it matches them without regard to case), read
 * once per database. Intl's list is not PostgreSQL's: ICU still knows zones the tz database
 * dropped ("US/Pacific-New", "Canada/East-Saskatchewan"), which the schema lets through and the
 * reports' AT TIME ZONE then refuses (SQLSTATE 22023, a server fault).
 */
const databaseZones = new WeakMap<Database["prisma"], Promise<Set<string>>>();

function zonesOf(prisma: Database["prisma"]): Promise<Set<string>> {
  let zones = databaseZones.get(prisma);
  if (!zones) {
    zones = prisma.$queryRaw<{ name: string }[]>`SELECT name FROM pg_timezone_names`.then((rows) => new Set(rows.map((r) => r.name.toLowerCase())));
    // A failed read is not remembered: the next request asks again.
    zones.catch(() => databaseZones.delete(prisma));
    databaseZones.set(prisma, zones);
  }
  return zones;
}

/** BAD_REQUEST naming the timeZone field (a ValidationError) for a zone PostgreSQL does not know. */
async function requireDatabaseZone(db: Database, timeZone: string): Promise<void> {
  if ((await zonesOf(db.prisma)).has(timeZone.toLowerCase())) return;
  throw new ValidationError(`timeZone: unknown time zone ${timeZone} (the database's time zone list does not have it)`, "timeZone");
}

const OVERDUE_LIMIT = 100;

export const reportsRouter = router({
  /** Turnaround percentiles per day, kind and priority, and the orders open past their threshold. */
  turnaround: clinicianProcedure
    .input(z.object({ days: z.int().min(1).max(90).default(14), timeZone: timeZoneInput }).default({ days: 14, timeZone: "UTC" }))
    .query(async ({ ctx, input }) => {
      await requireDatabaseZone(ctx.db, input.timeZone);
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
      await recordAccess(ctx, { procedure: "reports.turnaround", screen: "turnaround_report", patientIds });
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
    await requireDatabaseZone(ctx.db, input.timeZone);
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
      await requireDatabaseZone(ctx.db, input.timeZone);
      const now = new Date();
      const db = ctx.db.prisma;
      const [report, lag] = await Promise.all([activityReport(db, { ...input, now }), projectionLag(db, userActivity)]);
      const names = await providerNames(db, report.userIds);
      return { ...report, users: report.userIds.map((id) => ({ id, name: names[id] ?? null })), nightHours, now, lag };
    }),
});
