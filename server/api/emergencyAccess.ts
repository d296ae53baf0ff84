// Break-the-glass. A clinician reads a chart freely when the patient is in their care: an
// encounter or order of theirs with the patient, or they registered the patient. Any other chart
// opens only after they state a reason; the grant holds for that clinician and patient for
// EMERGENCY_ACCESS_HOURS so every click does not ask again, and every grant waits in the
// compliance review list until an officer marks it reviewed with a note.
//
// Grants and reviews live in two append-only tables (emergency_access, emergency_access_review;
// the database refuses UPDATE and DELETE) rather than in the patient's event stream: they are
// facts about staff access, not about the patient's care, so they must not show in the clinical
// history, fold into the record or need an upcaster; and "needing review" is one anti-join.
import { cursorInstant, text } from "../input";
import { randomUUID } from "node:crypto";
import { z } from "zod";
import { TRPCError } from "@trpc/server";
import { Prisma } from "../db/generated/client";
import type { Database } from "../db/client";
import { InvariantError, NotFoundError, NotInCareError } from "../errors";
import { patientStream } from "../domain/streams";
import { accessRowsSql, encodeCursor, opaqueCursor, patientLabels, recordAccess, type AccessContext, type PatientAccess, type PatientLabel } from "./accessLog";

/**
 * How long a grant holds. The database bounds every grant to this from its grant time, which it
 * stamps itself (migration 20261216010000_grants_and_extracts_stamped_by_the_database says 4
 * hours too: change both together).
 */
export const EMERGENCY_ACCESS_HOURS = 4;

/** Why the glass was broken: long enough to mean something, short enough to read in a list. */
export const emergencyReasonInput = text(500, {
  min: 10,
  minMessage: "say why you need this chart (at least 10 characters)",
  maxMessage: "the reason may be at most 500 characters",
});
/** A reviewer's note on an emergency access. */
export const reviewNoteInput = text(1000, { min: 3, minMessage: "write a note (at least 3 characters)", maxMessage: "the note may be at most 1000 characters" });

type Db = Pick<Database, "prisma">;

/**
 * How the caller reaches this chart: "care" when the patient is in their care, "grant" when only
 * an unexpired emergency grant opens it, null when nothing does. "Care" is what the record holds:
 * they registered the patient (version 1 of its stream is theirs), or are the provider of any of
 * its encounters or orders.
 */
export type ChartAccess = "care" | "grant";

async function chartAccessOf(db: Db, userId: string, patientId: string): Promise<ChartAccess | null> {
  const [row] = await db.prisma.$queryRaw<{ access: ChartAccess | null }[]>`
    SELECT CASE WHEN ${inCareSql(Prisma.sql`${userId}`, Prisma.sql`${patientId}::uuid`, Prisma.sql`${patientStream(patientId)}`)} THEN 'care'
                WHEN ${liveGrantSql(userId, patientId)} THEN 'grant' END AS access`;
  return row?.access ?? null;
}

/**
 * The patient is in the user's care without any grant: an encounter or order of theirs, or they
 * registered the patient. The chart check and the review list's "now in their care" both ask it.
 */
function inCareSql(user: Prisma.Sql, patient: Prisma.Sql, patientStreamId: Prisma.Sql): Prisma.Sql {
  return Prisma.sql`(
       EXISTS (SELECT 1 FROM rm_encounters WHERE patient_id = ${patient} AND provider_id = ${user})
    OR EXISTS (SELECT 1 FROM rm_orders WHERE patient_id = ${patient} AND provider_id = ${user})
    OR EXISTS (SELECT 1 FROM events WHERE stream_id = ${patientStreamId} AND version = 1 AND user_id = ${user}))`;
}

function liveGrantSql(userId: string, patientId: string): Prisma.Sql {
  return Prisma.sql`EXISTS (SELECT 1 FROM emergency_access WHERE user_id = ${userId} AND patient_id = ${patientId}::uuid AND expires_at > now())`;
}

function mayReadChartSql(userId: string, patientId: string): Prisma.Sql {
  return Prisma.sql`(
       ${inCareSql(Prisma.sql`${userId}`, Prisma.sql`${patientId}::uuid`, Prisma.sql`${patientStream(patientId)}`)}
    OR ${liveGrantSql(userId, patientId)})`;
}

/**
 * Throws NotInCareError (PRECONDITION_FAILED, kind "break_the_glass") unless the caller may read
 * this chart; says how they reach it otherwise.
 */
export async function requireChartAccess(ctx: AccessContext, patientId: string): Promise<ChartAccess> {
  if (!ctx.user) throw new Error("requireChartAccess: no signed-in user");
  const access = await chartAccessOf(ctx.db, ctx.user.id, patientId);
  if (access !== null) return access;
  // No such patient is not a chart to break the glass for (as patient.byId and history answer).
  const patient = await ctx.db.prisma.rmPatient.findUnique({ where: { patientId }, select: { patientId: true } });
  if (!patient) throw new NotFoundError("Patient", patientId);
  throw new NotInCareError(patientId);
}

/**
 * requireChartAccess, then recordAccess for this one patient, in one statement (one round trip
 * instead of two): the access row is written only when the caller may read the chart, before the
 * data is returned; NotInCareError otherwise, and no row.
 */
export async function requireChartAccessAndRecord(ctx: AccessContext, patientId: string, access: Omit<PatientAccess, "patientId" | "patientIds">): Promise<void> {
  if (!ctx.user) throw new Error("requireChartAccess: no signed-in user");
  const [row] = await ctx.db.prisma.$queryRaw<{ ok: boolean }[]>`
    WITH allowed AS (SELECT ${mayReadChartSql(ctx.user.id, patientId)} AS ok),
    logged AS (${accessRowsSql(ctx.user.id, ctx.correlationId, access, Prisma.sql`${patientId}`, Prisma.sql`allowed WHERE allowed.ok`)})
    SELECT ok FROM allowed`;
  if (row?.ok !== true) throw new NotInCareError(patientId);
}

/**
 * Writing to a chart needs what reading it needs: a clinician cannot change the demographics,
 * start or complete an encounter or place an order for a patient outside their care without
 * having broken the glass first (an encounter or order of theirs would otherwise put the patient
 * in their care without a reason). The patient is named directly or through the encounter; a
 * record that does not exist is left to the decider to refuse, as for anyone. Answers the
 * patient's id and how the caller reaches the chart (null when there is no such record).
 */
export async function requireChartWriteAccess(
  ctx: AccessContext & WritingContext,
  about: { patientId: string } | { encounterId: string },
): Promise<{ patientId: string; access: ChartAccess } | null> {
  if (!ctx.user) throw new Error("requireChartWriteAccess: no signed-in user");
  const { prisma } = ctx.db;
  const record =
    "patientId" in about
      ? await prisma.rmPatient.findUnique({ where: { patientId: about.patientId }, select: { patientId: true } })
      : await prisma.rmEncounter.findUnique({ where: { encounterId: about.encounterId }, select: { patientId: true } });
  if (!record) return null;
  const access = await requireChartAccess(ctx, record.patientId);
  ctx.chartWrites?.push(record.patientId);
  return { patientId: record.patientId, access };
}

/**
 * The charts a mutation writes to, for recordChartRefusal: a patient's id, or how to find it
 * when the command names only its own record (an order's status change) or the refusal names
 * another chart (an MRN that belongs to another patient), asked only when the command is refused. authedProcedure gives every mutation an empty list; requireChartWriteAccess
 * adds the chart it opened.
 */
export type ChartWrites = (string | ((refusal: InvariantError) => Promise<string | null>))[];
export type WritingContext = { chartWrites?: ChartWrites };

/**
 * A refusal by a chart's rules, recorded in the access log before it goes back (authedProcedure
 * calls this for every mutation refused with an InvariantError). A refusal quotes the record as
 * loaded ("The patient has a recorded allergy to Penicillin", "An active allergy to Latex is
 * already recorded", an encounter's start time, an order's status): a read, which without a row
 * left no trace, as nothing was written either, and a write sent only to be refused asked the
 * chart a question. Being the procedure's wrapper rather than each command's, no chart write can
 * forget it.
 */
export async function recordChartRefusal(ctx: AccessContext, procedure: string, writes: ChartWrites, error: unknown): Promise<void> {
  if (!(error instanceof InvariantError) || writes.length === 0 || !ctx.user) return;
  const patientIds = await Promise.all(writes.map((chart) => (typeof chart === "string" ? chart : chart(error))));
  const named = patientIds.filter((id): id is string => id !== null);
  if (named.length > 0) await recordAccess(ctx, { patientIds: named, procedure, screen: "refusal" });
}

/**
 * Records a break-the-glass grant with its reason; the chart then opens for EMERGENCY_ACCESS_HOURS.
 *
 * A caller who already holds an unexpired grant for this patient gets that grant back, and no
 * second row is written. The console only asks for a reason when the chart is refused, so a
 * second call inside a live grant is the same access sent twice (a double-click, a retry, two
 * tabs), not a new need: two rows made compliance review one access twice. The reused grant is
 * not extended, so a clinician cannot keep the glass open by asking again; after it expires the
 * chart asks, and a new reason is a new access. `repeated` says which answer this is.
 */
export async function breakGlass(
  ctx: AccessContext,
  patientId: string,
  reason: string,
): Promise<{ accessId: string; expiresAt: Date; repeated: boolean }> {
  const user = ctx.user;
  if (!user) throw new Error("breakGlass: no signed-in user");
  const patient = await ctx.db.prisma.rmPatient.findUnique({ where: { patientId }, select: { patientId: true } });
  if (!patient) throw new NotFoundError("Patient", patientId);
  return ctx.db.prisma.$transaction(async (tx) => {
    // Two calls at once both found no grant before either had committed: the second now waits for
    // the first here, and its read (a statement after the lock) sees the first's row.
    await tx.$queryRaw`SELECT pg_advisory_xact_lock(hashtextextended('break the glass ' || ${user.id} || ' ' || ${patientId}, 0))::text AS locked`;
    const [live] = await tx.$queryRaw<{ id: string; expires_at: Date }[]>`
      SELECT id::text AS id, expires_at FROM emergency_access
       WHERE user_id = ${user.id} AND patient_id = ${patientId}::uuid AND expires_at > clock_timestamp()
       ORDER BY granted_at DESC LIMIT 1`;
    if (live) return { accessId: live.id, expiresAt: live.expires_at, repeated: true };
    const id = randomUUID();
    // The grant time and the expiry from one reading of the clock: granted_at's default read it
    // separately, first, so on a database the app owns (the embedded one, where the stamping
    // trigger leaves the owner's rows alone) a millisecond that ticked between the two readings
    // made the grant 4 hours and 1 ms long, and the bound refused it. For the app's role the
    // trigger stamps granted_at again, later, so the grant ends a little before the bound.
    const [row] = await tx.$queryRaw<{ expires_at: Date }[]>`
      WITH now AS (SELECT date_trunc('milliseconds', clock_timestamp()) AS at)
      INSERT INTO emergency_access (id, user_id, patient_id, reason, granted_at, expires_at, correlation_id)
      SELECT ${id}::uuid, ${user.id}, ${patientId}::uuid, ${reason}, now.at,
             now.at + make_interval(hours => ${EMERGENCY_ACCESS_HOURS}::int), ${ctx.correlationId}
        FROM now
      RETURNING expires_at`;
    if (!row) throw new Error("breakGlass: the grant was not stored");
    return { accessId: id, expiresAt: row.expires_at, repeated: false };
  });
}

export type EmergencyAccessItem = {
  accessId: string;
  userId: string;
  userName: string | null;
  patientId: string;
  patient: PatientLabel | null;
  reason: string;
  grantedAt: Date;
  expiresAt: Date;
  review: { reviewerId: string; reviewerName: string | null; note: string; reviewedAt: Date } | null;
  /** What the clinician did with the grant, for the reviewer: see grantUse. */
  use: GrantUse;
};

/**
 * What a grant was used for, between its grant and its expiry: how many chart views the access
 * log holds, and the record's changes by event type (the patient's own stream, its encounters'
 * and orders'). `lastingCare`: the patient is now in this clinician's care without the grant (an
 * encounter or order of theirs, or they registered the patient), so the chart stays open to them
 * after it expires; an encounter started under the glass is how emergency care begins, and the
 * reviewer is the one to judge it.
 */
export type GrantUse = { views: number; changes: { eventType: string; count: number }[]; lastingCare: boolean };

const unusedGrant: GrantUse = { views: 0, changes: [], lastingCare: false };

export async function grantUse(db: Db, accessIds: string[]): Promise<Map<string, GrantUse>> {
  const use = new Map<string, GrantUse>();
  if (accessIds.length === 0) return use;
  const [changes, views, care] = await Promise.all([
    // The patient's streams are found from the patient (a few), then each stream's events by its
    // key: bounded by the patient's history, not by the clinician's.
    db.prisma.$queryRaw<{ access_id: string; event_type: string; n: number }[]>`
      SELECT a.id::text AS access_id, ev.event_type, count(*)::int AS n
        FROM emergency_access a
        CROSS JOIN LATERAL (
          SELECT 'patient-' || a.patient_id::text AS stream_id
          UNION ALL SELECT 'encounter-' || e.encounter_id::text FROM rm_encounters e WHERE e.patient_id = a.patient_id
          UNION ALL SELECT 'order-' || o.order_id::text FROM rm_orders o WHERE o.patient_id = a.patient_id
        ) s
        JOIN events ev ON ev.stream_id = s.stream_id AND ev.user_id = a.user_id
                      AND ev.recorded_at >= a.granted_at AND ev.recorded_at < a.expires_at
       WHERE a.id = ANY(${accessIds}::uuid[])
       GROUP BY a.id, ev.event_type
       ORDER BY a.id, min(ev.global_position)`,
    db.prisma.$queryRaw<{ access_id: string; n: number }[]>`
      SELECT a.id::text AS access_id, count(l.id)::int AS n
        FROM emergency_access a
        JOIN access_log l ON l.patient_id = a.patient_id::text AND l.user_id = a.user_id
                         AND l.accessed_at >= a.granted_at AND l.accessed_at < a.expires_at
       WHERE a.id = ANY(${accessIds}::uuid[])
       GROUP BY a.id`,
    db.prisma.$queryRaw<{ access_id: string }[]>`
      SELECT a.id::text AS access_id
        FROM emergency_access a
       WHERE a.id = ANY(${accessIds}::uuid[])
         AND ${inCareSql(Prisma.sql`a.user_id`, Prisma.sql`a.patient_id`, Prisma.sql`'patient-' || a.patient_id::text`)}`,
  ]);
  const entry = (id: string) => {
    let found = use.get(id);
    if (!found) use.set(id, (found = { views: 0, changes: [], lastingCare: false }));
    return found;
  };
  for (const row of changes) entry(row.access_id).changes.push({ eventType: row.event_type, count: row.n });
  for (const row of views) entry(row.access_id).views = row.n;
  for (const row of care) entry(row.access_id).lastingCare = true;
  return use;
}

/** The review list's cursor: the last item's grant time, then its id. */
export const emergencyCursor = opaqueCursor(z.object({ grantedAt: cursorInstant, id: z.uuid() }));

export const reviewStatus = z.enum(["needs_review", "reviewed", "all"]);

/** Emergency accesses, newest first, keyset-paged on (granted_at, id). */
export async function listEmergencyAccesses(
  db: Db,
  filter: { status: z.output<typeof reviewStatus>; patientId?: string; cursor?: { grantedAt: string; id: string }; limit: number },
): Promise<{ items: EmergencyAccessItem[]; nextCursor: string | null }> {
  const where: Prisma.EmergencyAccessWhereInput = {
    ...(filter.status === "needs_review" ? { review: { is: null } } : filter.status === "reviewed" ? { review: { isNot: null } } : {}),
    ...(filter.patientId ? { patientId: filter.patientId } : {}),
    ...(filter.cursor
      ? {
          OR: [
            { grantedAt: { lt: new Date(filter.cursor.grantedAt) } },
            { grantedAt: new Date(filter.cursor.grantedAt), id: { lt: filter.cursor.id } },
          ],
        }
      : {}),
  };
  const found = await db.prisma.emergencyAccess.findMany({
    where,
    orderBy: [{ grantedAt: "desc" }, { id: "desc" }],
    take: filter.limit + 1,
    select: {
      id: true,
      userId: true,
      patientId: true,
      reason: true,
      grantedAt: true,
      expiresAt: true,
      review: { select: { reviewerId: true, note: true, reviewedAt: true } },
    },
  });
  const page = found.slice(0, filter.limit);
  const userIds = [...new Set(page.flatMap((a) => [a.userId, ...(a.review ? [a.review.reviewerId] : [])]))];
  const [users, patients, used] = await Promise.all([
    userIds.length === 0 ? [] : db.prisma.user.findMany({ where: { id: { in: userIds } }, select: { id: true, name: true } }),
    patientLabels(db, page.map((a) => a.patientId)),
    grantUse(db, page.map((a) => a.id)),
  ]);
  const names = new Map(users.map((u) => [u.id, u.name]));
  const last = page.at(-1);
  return {
    items: page.map((a) => ({
      accessId: a.id,
      userId: a.userId,
      userName: names.get(a.userId) ?? null,
      patientId: a.patientId,
      patient: patients.get(a.patientId) ?? null,
      reason: a.reason,
      grantedAt: a.grantedAt,
      expiresAt: a.expiresAt,
      review: a.review ? { ...a.review, reviewerName: names.get(a.review.reviewerId) ?? null } : null,
      use: used.get(a.id) ?? unusedGrant,
    })),
    nextCursor:
      found.length > filter.limit && last ? encodeCursor({ grantedAt: last.grantedAt.toISOString(), id: last.id }) : null,
  };
}

/**
 * How many emergency accesses await review and since when, for the compliance officer's start
 * page: counts only, no patient and no user, so it reveals no chart and records no access.
 */
export async function emergencyReviewQueue(db: Db): Promise<{ needsReview: number; oldestGrantedAt: Date | null }> {
  const queue = await db.prisma.emergencyAccess.aggregate({ where: { review: { is: null } }, _count: { _all: true }, _min: { grantedAt: true } });
  return { needsReview: queue._count._all, oldestGrantedAt: queue._min.grantedAt };
}

/** Marks one emergency access reviewed, with the reviewer and note; a second review, or one by the user who broke the glass, is refused. */
export async function reviewEmergencyAccess(ctx: AccessContext, accessId: string, note: string) {
  if (!ctx.user) throw new Error("reviewEmergencyAccess: no signed-in user");
  const access = await ctx.db.prisma.emergencyAccess.findUnique({ where: { id: accessId }, select: { userId: true } });
  if (!access) throw new NotFoundError("Emergency access", accessId);
  // An account that is both clinician and compliance does not pass its own reason.
  if (access.userId === ctx.user.id) {
    throw new TRPCError({ code: "FORBIDDEN", message: "This emergency access is your own: another compliance officer must review it" });
  }
  const rows = await ctx.db.prisma.$queryRaw<{ reviewed_at: Date }[]>`
    INSERT INTO emergency_access_review (access_id, reviewer_id, note) VALUES (${accessId}::uuid, ${ctx.user.id}, ${note})
    ON CONFLICT (access_id) DO NOTHING
    RETURNING reviewed_at`;
  const row = rows[0];
  if (!row) throw new InvariantError("This emergency access was already reviewed; reviews are never edited", "emergency_access.reviewed_once");
  return { accessId, reviewerId: ctx.user.id, note, reviewedAt: row.reviewed_at };
}
