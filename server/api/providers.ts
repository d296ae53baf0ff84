// Who may be named as the provider of an encounter or an order: an existing user who holds the
// clinician role now. A client cannot attribute care to an admin, a compliance officer, a
// departed user (whose roles were taken away) or an id that names nobody.
import { NotFoundError, ValidationError } from "../errors";
import type { Context } from "./context";

/** The provider to record: the given one once checked, or the signed-in clinician making the call. */
export async function providerFor(ctx: Pick<Context, "db"> & { user: { id: string } }, providerId: string | undefined): Promise<string> {
  // The caller's clinician role was read from the database for this request (no cookie cache).
  if (providerId === undefined || providerId === ctx.user.id) return ctx.user.id;
  const user = await ctx.db.prisma.user.findUnique({ where: { id: providerId }, select: { roles: true } });
  if (!user) throw new NotFoundError("Provider", providerId);
  if (!user.roles.includes("clinician")) {
    throw new ValidationError("The provider must be a user who holds the clinician role", "providerId");
  }
  return providerId;
}
