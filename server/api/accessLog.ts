// The read-access log: who saw which patient's data, through which procedure, when, and in which
// request (correlation id). Written before the data is returned, in the same request, so a
// response with patient data never leaves without its row: when the insert fails, the query fails.
import type { Prisma } from "../db/generated/client";
import type { Database } from "../db/client";
import type { SessionUser } from "./context";

/** What recordAccess needs from the tRPC context. */
export type AccessContext = {
  db: Pick<Database, "prisma">;
  user: SessionUser | null;
  correlationId: string;
};

export type PatientAccess =
  /** The tRPC path, e.g. "patient.byId". */
  | { procedure: string; patientId: string }
  | { procedure: string; patientIds: readonly string[] };

/** A client for the insert: the context's Prisma client, or a transaction's. */
type Executor = Pick<Database["prisma"], "$executeRaw">;

/**
 * Records that the signed-in user read these patients' data. One INSERT for all of them; call
 * it with the patient ids actually returned, before returning them.
 *
 *   const patient = await loadPatient(ctx, input.patientId);
 *   await recordAccess(ctx, { procedure: "patient.byId", patientId: patient.patientId });
 *   return patient;
 */
export async function recordAccess(ctx: AccessContext, access: PatientAccess, tx?: Executor): Promise<void> {
  if (!ctx.user) throw new Error("recordAccess: no signed-in user; patient data is never read anonymously");
  const ids = "patientId" in access ? [access.patientId] : [...new Set(access.patientIds)];
  if (ids.length === 0) return;
  const db = tx ?? ctx.db.prisma;
  await db.$executeRaw`
    INSERT INTO access_log (user_id, patient_id, procedure, correlation_id)
    SELECT ${ctx.user.id}, p, ${access.procedure}, ${ctx.correlationId}
      FROM unnest(${ids}::text[]) AS p`;
}

export type AccessLogFilter = {
  patientId?: string;
  userId?: string;
  from?: Date;
  to?: Date;
  /** The last row's id from the previous page; pages go newest first. */
  cursor?: string;
  limit: number;
};

export type AccessLogRow = {
  id: string;
  accessedAt: Date;
  userId: string;
  userName: string | null;
  userEmail: string | null;
  patientId: string;
  procedure: string;
  correlationId: string;
};

/** Newest first, keyset-paged on id. */
export async function readAccessLog(
  db: Pick<Database, "prisma">,
  filter: AccessLogFilter,
): Promise<{ rows: AccessLogRow[]; nextCursor: string | null }> {
  const where: Prisma.AccessLogWhereInput = {
    ...(filter.patientId ? { patientId: filter.patientId } : {}),
    ...(filter.userId ? { userId: filter.userId } : {}),
    ...(filter.from || filter.to ? { accessedAt: { ...(filter.from ? { gte: filter.from } : {}), ...(filter.to ? { lt: filter.to } : {}) } } : {}),
    ...(filter.cursor ? { id: { lt: BigInt(filter.cursor) } } : {}),
  };
  const found = await db.prisma.accessLog.findMany({
    where,
    orderBy: { id: "desc" },
    take: filter.limit + 1,
    select: { id: true, accessedAt: true, userId: true, patientId: true, procedure: true, correlationId: true },
  });
  const page = found.slice(0, filter.limit);
  const userIds = [...new Set(page.map((r) => r.userId))];
  const users =
    userIds.length === 0
      ? []
      : await db.prisma.user.findMany({ where: { id: { in: userIds } }, select: { id: true, name: true, email: true } });
  const byId = new Map(users.map((u) => [u.id, u]));
  return {
    rows: page.map((r) => ({
      id: r.id.toString(),
      accessedAt: r.accessedAt,
      userId: r.userId,
      userName: byId.get(r.userId)?.name ?? null,
      userEmail: byId.get(r.userId)?.email ?? null,
      patientId: r.patientId,
      procedure: r.procedure,
      correlationId: r.correlationId,
    })),
    nextCursor: found.length > filter.limit ? (page.at(-1)?.id.toString() ?? null) : null,
  };
}
