// The read-access log: who saw which patient's data, through which screen, when, and in which
// request (correlation id). Written before the data is returned, in the same request, so a
// response with patient data never leaves without its row: when the insert fails, the query fails.
//
// One row per screen view, not per query: a screen sends one view id (a uuid it makes when it
// opens) with each of its queries (the chart and its history, a refetch on focus), and a unique
// index keeps one row per user, patient, view id, screen and clock hour (ON CONFLICT DO NOTHING,
// so two queries racing still write one). The screen is in the key because the view id is the
// client's: without it, a view id first spent on the history screen hid every chart opening made
// under it. The chart screen's own history is no second row (accessRowsSql). A query without a
// view id is its own screen view.
import { z } from "zod";
import { cursorInstant, INT4_MAX, text } from "../input";
import { NotFoundError } from "../errors";
import { Prisma } from "../db/generated/client";
import type { Database } from "../db/client";
import type { SessionUser } from "./context";

/** What recordAccess needs from the tRPC context. */
export type AccessContext = {
  db: Pick<Database, "prisma">;
  user: SessionUser | null;
  correlationId: string;
};

/** The screens patient data is read through, and how the access log says it. */
export const screens = {
  chart: "opened the chart",
  edit: "opened the chart to edit demographics",
  history: "viewed history",
  changes: "viewed changes made meanwhile",
  search: "listed in search",
  encounters: "viewed encounters",
  encounter: "viewed an encounter",
  order: "viewed an order",
  worklist: "listed in the order worklist",
  turnaround_report: "listed in the order turnaround report",
  audit_search: "listed in a compliance search",
  audit_access_log: "listed in the access log",
  audit_events: "listed in the event log",
  audit_event: "viewed an event's detail",
  audit_timeline: "reviewed the audit timeline",
  audit_as_of: "viewed the record as of a past time",
  audit_diff: "compared the record at two moments",
  audit_export: "exported in an audit extract",
  review_list: "listed for emergency-access review",
  erasure: "looked up to be erased",
  refusal: "read the chart in a refused change",
} as const;
export type Screen = keyof typeof screens;

/** Screens that only list a patient among others (a name in a result), as opposed to opening data. */
export const listingScreens: readonly Screen[] = ["search", "worklist", "turnaround_report", "audit_search", "audit_access_log", "audit_events", "review_list"];
/** Screens that open the chart itself. */
export const chartScreens: readonly Screen[] = ["chart", "edit"];
/** Screens the chart screen shows inside itself, under its view id: already said by its "opened the chart" row. */
const insideChartScreens: readonly Screen[] = ["history"];

/** Rows written before screens were recorded name only the procedure. */
const screenOfProcedure: Record<string, Screen> = {
  "patient.byId": "chart",
  "patient.list": "search",
  "patient.history": "history",
  "patient.changesSince": "changes",
  "encounter.byId": "encounter",
  "encounter.listForPatient": "encounters",
  "order.byId": "order",
  "order.worklist": "worklist",
  // Written without a screen until the report had one: those rows read "read the record" and
  // counted as views of the record, for a name in a list of overdue orders.
  "reports.turnaround": "turnaround_report",
  "audit.patients": "audit_search",
  "audit.events": "audit_events",
  "audit.event": "audit_event",
  "audit.patientTimeline": "audit_timeline",
  "audit.patientAsOf": "audit_as_of",
  "admin.findPatientForErasure": "erasure",
  "audit.recordAt": "audit_as_of",
  "audit.recordDiff": "audit_diff",
};

/** The stored values that mean these screens: the screens, and on old rows the procedures. */
const screenKeys = (list: readonly Screen[]) => [...list, ...Object.entries(screenOfProcedure).filter(([, s]) => list.includes(s)).map(([p]) => p)];

/** The words for a stored screen (or, on old rows, procedure). */
export function screenLabel(screenOrProcedure: string): string {
  if (screenOrProcedure in screens) return screens[screenOrProcedure as Screen];
  const screen = screenOfProcedure[screenOrProcedure];
  return screen ? screens[screen] : "read the record";
}

/** The view id a screen sends with its queries. */
export const viewIdInput = { viewId: z.uuid("view id must be a uuid").optional() };

export type PatientAccess = (
  | { patientId: string }
  | { patientIds: readonly string[] }
) & {
  /** The tRPC path, e.g. "patient.byId". */
  procedure: string;
  /** Defaults to the procedure's screen. */
  screen?: Screen;
  viewId?: string | undefined;
};

/** The screen an access row names: the one given, or the procedure's. */
export function screenOf(access: Pick<PatientAccess, "procedure" | "screen">): Screen | null {
  return access.screen ?? screenOfProcedure[access.procedure] ?? null;
}

/** A client for the insert: the context's Prisma client, or a transaction's. */
type Executor = Pick<Database["prisma"], "$executeRaw">;

/**
 * Records that the signed-in user read these patients' data. One INSERT for all of them; call
 * it with the patient ids actually returned, before returning them.
 *
 *   const patient = await loadPatient(ctx, input.patientId);
 *   await recordAccess(ctx, { procedure: "patient.byId", patientId: patient.patientId, viewId: input.viewId });
 *   return patient;
 */
export async function recordAccess(ctx: AccessContext, access: PatientAccess, tx?: Executor): Promise<void> {
  if (!ctx.user) throw new Error("recordAccess: no signed-in user; patient data is never read anonymously");
  const ids = "patientId" in access ? [access.patientId] : [...new Set(access.patientIds)];
  if (ids.length === 0) return;
  const db = tx ?? ctx.db.prisma;
  await db.$executeRaw(accessRowsSql(ctx.user.id, ctx.correlationId, access, Prisma.sql`p`, Prisma.sql`unnest(${ids}::text[]) AS p`));
}

/**
 * The access-log INSERT, one row per row of `from` (whose `patient` expression names the
 * patient): recordAccess writes it alone, a chart read as part of its care check.
 */
export function accessRowsSql(
  userId: string,
  correlationId: string,
  access: Pick<PatientAccess, "procedure" | "screen" | "viewId">,
  patient: Prisma.Sql,
  from: Prisma.Sql,
): Prisma.Sql {
  const screen = screenOf(access);
  // Only a repeat of this view's row is let go: the unique index of the view key, named. A bare
  // ON CONFLICT DO NOTHING let any conflict go, the row id's included, so rows planted ahead of
  // the id sequence (an INSERT ... OVERRIDING SYSTEM VALUE by whoever holds the app's role) made
  // the next reads leave no row at all, and return their data. Now such a read fails.
  const onRepeatedView = Prisma.sql`ON CONFLICT (user_id, patient_id, view_id, (COALESCE(screen, procedure)), (date_trunc('hour', accessed_at AT TIME ZONE 'UTC'))) WHERE view_id IS NOT NULL DO NOTHING`;
  const rows = Prisma.sql`
    SELECT ${userId}::text, (${patient})::text, ${access.procedure}::text, ${correlationId}::text, ${screen}::text, ${access.viewId ?? null}::uuid
      FROM ${from}`;
  if (!access.viewId || !screen || !insideChartScreens.includes(screen)) {
    return Prisma.sql`
    INSERT INTO access_log (user_id, patient_id, procedure, correlation_id, screen, view_id)
    ${rows}
    ${onRepeatedView}`;
  }
  // The chart's history pages, sent with the chart's view id: the view already has its chart row
  // (the history is shown only once the chart has loaded), which says more. Without a chart row
  // (history first, or alone) the history is its own row.
  return Prisma.sql`
    INSERT INTO access_log (user_id, patient_id, procedure, correlation_id, screen, view_id)
    SELECT * FROM (${rows}) AS r (user_id, patient_id, procedure, correlation_id, screen, view_id)
     WHERE NOT EXISTS (
       SELECT 1 FROM access_log a
        WHERE a.user_id = r.user_id AND a.patient_id = r.patient_id AND a.view_id = r.view_id
          AND COALESCE(a.screen, a.procedure) = ANY(${screenKeys(chartScreens)}::text[])
          AND date_trunc('hour', a.accessed_at AT TIME ZONE 'UTC') = date_trunc('hour', clock_timestamp() AT TIME ZONE 'UTC'))
    ${onRepeatedView}`;
}

// Cursors: opaque to the browser, checked on the way in. A forged or damaged one is a zod issue
// (BAD_REQUEST), never a SQL error.
export function opaqueCursor<T extends z.ZodType>(shape: T) {
  return z
    .string()
    .max(500)
    .transform((text, ctx): z.output<T> => {
      try {
        const parsed = shape.safeParse(JSON.parse(Buffer.from(text, "base64url").toString("utf8")));
        if (parsed.success) return parsed.data;
      } catch {
        // fall through to the issue below
      }
      ctx.addIssue({ code: "custom", message: "this cursor was not issued by this server" });
      return z.NEVER;
    });
}
export const encodeCursor = (value: unknown) => Buffer.from(JSON.stringify(value), "utf8").toString("base64url");

const maxBigint = 9223372036854775807n;
/** A user id inside a cursor: exact (not trimmed), text PostgreSQL can hold. */
const cursorUser = text(200, { min: 1, trim: false });
/** The access log's row cursor: a row id within bigint. */
export const rowCursor = opaqueCursor(z.object({ id: z.string().regex(/^\d{1,19}$/).refine((s) => BigInt(s) <= maxBigint) }));
/** A per-user group's cursor: its last read, then its user id. */
export const groupCursor = opaqueCursor(z.object({ last: cursorInstant, user: cursorUser }));
/** The per-user summary's cursor: charts opened, then user id. */
export const summaryCursor = opaqueCursor(z.object({ charts: z.int().min(0).max(INT4_MAX), user: cursorUser }));

export type AccessLogFilter = {
  patientId?: string;
  userId?: string;
  from?: Date;
  to?: Date;
  /** Decoded rowCursor; pages go newest first. */
  cursor?: { id: string };
  limit: number;
};

export type AccessLogRow = {
  id: string;
  accessedAt: Date;
  userId: string;
  userName: string | null;
  userEmail: string | null;
  patientId: string;
  patient: PatientLabel | null;
  /** In words: "opened the chart", "listed in search". */
  screen: string;
  correlationId: string;
};

export type PatientLabel = { name: string; mrn: string };

type Prismaish = Pick<Database, "prisma">;

async function userNames(db: Prismaish, ids: readonly string[]) {
  if (ids.length === 0) return new Map<string, { name: string; email: string }>();
  const users = await db.prisma.user.findMany({ where: { id: { in: [...new Set(ids)] } }, select: { id: true, name: true, email: true } });
  return new Map(users.map((u) => [u.id, { name: u.name, email: u.email }]));
}

export async function patientLabels(db: Prismaish, ids: readonly string[]) {
  const uuids = [...new Set(ids)].filter((id) => z.uuid().safeParse(id).success);
  if (uuids.length === 0) return new Map<string, PatientLabel>();
  const found = await db.prisma.rmPatient.findMany({
    where: { patientId: { in: uuids } },
    select: { patientId: true, givenName: true, familyName: true, mrn: true },
  });
  return new Map(found.map((p) => [p.patientId, { name: `${p.givenName} ${p.familyName}`, mrn: p.mrn }]));
}

const timeRange = (filter: { from?: Date; to?: Date }) =>
  Prisma.sql`${filter.from ? Prisma.sql`AND accessed_at >= ${filter.from}` : Prisma.empty} ${filter.to ? Prisma.sql`AND accessed_at < ${filter.to}` : Prisma.empty}`;

/** One row per screen view, newest first, keyset-paged on id. */
export async function readAccessLog(db: Prismaish, filter: AccessLogFilter): Promise<{ rows: AccessLogRow[]; nextCursor: string | null }> {
  const where: Prisma.AccessLogWhereInput = {
    ...(filter.patientId ? { patientId: filter.patientId } : {}),
    ...(filter.userId ? { userId: filter.userId } : {}),
    ...(filter.from || filter.to ? { accessedAt: { ...(filter.from ? { gte: filter.from } : {}), ...(filter.to ? { lt: filter.to } : {}) } } : {}),
    ...(filter.cursor ? { id: { lt: BigInt(filter.cursor.id) } } : {}),
  };
  const found = await db.prisma.accessLog.findMany({
    where,
    orderBy: { id: "desc" },
    take: filter.limit + 1,
    select: { id: true, accessedAt: true, userId: true, patientId: true, procedure: true, screen: true, correlationId: true },
  });
  const page = found.slice(0, filter.limit);
  const [users, patients] = await Promise.all([userNames(db, page.map((r) => r.userId)), patientLabels(db, page.map((r) => r.patientId))]);
  const last = page.at(-1);
  return {
    rows: page.map((r) => ({
      id: r.id.toString(),
      accessedAt: r.accessedAt,
      userId: r.userId,
      userName: users.get(r.userId)?.name ?? null,
      userEmail: users.get(r.userId)?.email ?? null,
      patientId: r.patientId,
      patient: patients.get(r.patientId) ?? null,
      screen: screenLabel(r.screen ?? r.procedure),
      correlationId: r.correlationId,
    })),
    nextCursor: found.length > filter.limit && last ? encodeCursor({ id: last.id.toString() }) : null,
  };
}

export type ReaderGroup = {
  userId: string;
  userName: string | null;
  userEmail: string | null;
  /** Screen views of this chart in the range. */
  views: number;
  first: Date;
  last: Date;
  /** Through which screens, in words, most used first. */
  screens: { screen: string; views: number }[];
};

/** "Who has looked at this chart?": the patient's screen views grouped by user, latest reader first. */
export async function readersOfPatient(
  db: Prismaish,
  filter: { patientId: string; from?: Date; to?: Date; cursor?: { last: string; user: string }; limit: number },
): Promise<{ groups: ReaderGroup[]; nextCursor: string | null }> {
  const after = filter.cursor ? Prisma.sql`HAVING (max(l), user_id) < (${new Date(filter.cursor.last)}::timestamptz, ${filter.cursor.user})` : Prisma.empty;
  const found = await db.prisma.$queryRaw<{ user_id: string; views: number; first: Date; last: Date; screens: Record<string, number> }[]>`
    WITH per AS (
      SELECT user_id, COALESCE(screen, procedure) AS s, count(*)::int AS n, min(accessed_at) AS f, max(accessed_at) AS l
        FROM access_log
       WHERE patient_id = ${filter.patientId} ${timeRange(filter)}
       GROUP BY 1, 2
    )
    SELECT user_id, sum(n)::int AS views, min(f) AS first, max(l) AS last, jsonb_object_agg(s, n) AS screens
      FROM per
     GROUP BY user_id
     ${after}
     ORDER BY max(l) DESC, user_id DESC
     LIMIT ${filter.limit + 1}`;
  const page = found.slice(0, filter.limit);
  const users = await userNames(db, page.map((g) => g.user_id));
  const last = page.at(-1);
  return {
    groups: page.map((g) => {
      // Old rows (procedure) and new ones (screen) of the same screen add up under its words.
      const words = new Map<string, number>();
      for (const [s, n] of Object.entries(g.screens)) words.set(screenLabel(s), (words.get(screenLabel(s)) ?? 0) + n);
      return {
        userId: g.user_id,
        userName: users.get(g.user_id)?.name ?? null,
        userEmail: users.get(g.user_id)?.email ?? null,
        views: g.views,
        first: g.first,
        last: g.last,
        screens: [...words].map(([screen, views]) => ({ screen, views })).sort((a, b) => b.views - a.views || a.screen.localeCompare(b.screen)),
      };
    }),
    nextCursor: found.length > filter.limit && last ? encodeCursor({ last: last.last.toISOString(), user: last.user_id }) : null,
  };
}

export type UserActivity = {
  userId: string;
  userName: string | null;
  userEmail: string | null;
  /** Distinct patients whose chart this user opened. */
  chartsOpened: number;
  /** Distinct patients this user saw anything of, lists included. */
  patients: number;
  /** Screen views that opened data (not lists). */
  views: number;
  /** Times a patient appeared in this user's search results and lists. */
  listed: number;
  /** Break-the-glass accesses this user took in the range. */
  emergencyAccesses: number;
  first: Date;
  last: Date;
};

/** Per user, across patients: how many charts each opened in the range, most first (for spotting snooping). */
export async function userActivity(
  db: Prismaish,
  filter: { userId?: string; from?: Date; to?: Date; cursor?: { charts: number; user: string }; limit: number },
): Promise<{ users: UserActivity[]; nextCursor: string | null }> {
  const charts = screenKeys(chartScreens);
  const listing = screenKeys(listingScreens);
  const byUser = filter.userId ? Prisma.sql`AND user_id = ${filter.userId}` : Prisma.empty;
  const after = filter.cursor ? Prisma.sql`WHERE (charts, user_id) < (${filter.cursor.charts}::int, ${filter.cursor.user})` : Prisma.empty;
  const found = await db.prisma.$queryRaw<
    { user_id: string; charts: number; patients: number; views: number; listed: number; first: Date; last: Date }[]
  >`
    SELECT * FROM (
      SELECT user_id,
             (count(DISTINCT patient_id) FILTER (WHERE COALESCE(screen, procedure) = ANY(${charts}::text[])))::int AS charts,
             count(DISTINCT patient_id)::int AS patients,
             (count(*) FILTER (WHERE NOT COALESCE(screen, procedure) = ANY(${listing}::text[])))::int AS views,
             (count(*) FILTER (WHERE COALESCE(screen, procedure) = ANY(${listing}::text[])))::int AS listed,
             min(accessed_at) AS first, max(accessed_at) AS last
        FROM access_log
       WHERE true ${byUser} ${timeRange(filter)}
       GROUP BY user_id
    ) AS u
    ${after}
    ORDER BY charts DESC, user_id DESC
    LIMIT ${filter.limit + 1}`;
  const page = found.slice(0, filter.limit);
  const ids = page.map((u) => u.user_id);
  const [users, emergencies] = await Promise.all([
    userNames(db, ids),
    ids.length === 0
      ? Promise.resolve([])
      : db.prisma.emergencyAccess.groupBy({
          by: ["userId"],
          where: {
            userId: { in: ids },
            ...(filter.from || filter.to ? { grantedAt: { ...(filter.from ? { gte: filter.from } : {}), ...(filter.to ? { lt: filter.to } : {}) } } : {}),
          },
          _count: { _all: true },
        }),
  ]);
  const emergencyCount = new Map(emergencies.map((e) => [e.userId, e._count._all]));
  const last = page.at(-1);
  return {
    users: page.map((u) => ({
      userId: u.user_id,
      userName: users.get(u.user_id)?.name ?? null,
      userEmail: users.get(u.user_id)?.email ?? null,
      chartsOpened: u.charts,
      patients: u.patients,
      views: u.views,
      listed: u.listed,
      emergencyAccesses: emergencyCount.get(u.user_id) ?? 0,
      first: u.first,
      last: u.last,
    })),
    nextCursor: found.length > filter.limit && last ? encodeCursor({ charts: last.charts, user: last.user_id }) : null,
  };
}

/** A filter naming a patient or user that does not exist would read as "nobody": refuse it instead. */
export async function mustExist(ctx: { db: Pick<Database, "prisma"> }, filter: { patientId?: string; userId?: string }) {
  const [patient, user] = await Promise.all([
    filter.patientId ? ctx.db.prisma.rmPatient.findUnique({ where: { patientId: filter.patientId }, select: { patientId: true } }) : true,
    filter.userId ? ctx.db.prisma.user.findUnique({ where: { id: filter.userId }, select: { id: true } }) : true,
  ]);
  if (!patient && filter.patientId) throw new NotFoundError("Patient", filter.patientId);
  if (!user && filter.userId) throw new NotFoundError("User", filter.userId);
}
