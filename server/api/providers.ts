// Who may be named as the provider of an encounter or an order: an existing user who holds the
// clinician role now. A client cannot attribute care to an admin, a compliance officer, a
// departed user (whose roles were taken away) or an id that names nobody.
//
// Naming another clinician puts the patient in their care (the chart opens to them without the
// glass), so only a clinician who has the patient in their own care may do it. One who reached
// the chart by breaking the glass names only themselves: their grant is reviewed and ends after
// its hours, and it must not become standing access for a colleague who gave no reason and whom
// the review list would not show.
import { TRPCError } from "@trpc/server";
import { NotFoundError, ValidationError } from "../errors";
import type { Context } from "./context";
import type { ChartAccess } from "./emergencyAccess";

/** The provider to record: the given one once checked, or the signed-in clinician making the call. */
export async function providerFor(
  ctx: Pick<Context, "db"> & { user: { id: string } },
  providerId: string | undefined,
  /** The patient named, and how the caller reaches their chart as requireChartWriteAccess found it (null: no such patient). */
  chart: { patientId: string; access: ChartAccess | null },
): Promise<string> {
  // The caller's clinician role was read from the database for this request (no cookie cache).
  if (providerId === undefined || providerId === ctx.user.id) return ctx.user.id;
  const user = await ctx.db.prisma.user.findUnique({ where: { id: providerId }, select: { roles: true } });
  if (!user) throw new NotFoundError("Provider", providerId);
  if (!user.roles.includes("clinician")) {
    throw new ValidationError("The provider must be a user who holds the clinician role", "providerId");
  }
  // No such patient: said as the command says it without a provider named (the decider's
  // NOT_FOUND), not as a glass the caller never broke. Nobody is put in anyone's care by it.
  if (chart.access === null) throw new NotFoundError("Patient", chart.patientId);
  if (chart.access !== "care") {
    throw new TRPCError({
      code: "FORBIDDEN",
      message:
        "You reached this chart by breaking the glass: you can name only yourself as the provider. " +
        "A clinician who has the patient in their care can name a colleague, or the colleague breaks the glass themselves",
    });
  }
  return providerId;
}
