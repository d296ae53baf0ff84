// Patient search, shared by the clinical list and the compliance console: the same input and
// query, each logged in the access log under its own procedure name.
import { z } from "zod";
import { cursorInput, pageLimit, text } from "../input";
import { listPatients, patientCursor } from "../projections/queries";
import { recordAccess, type AccessContext } from "./accessLog";

export const patientSearchInput = z.object({
  search: text(100).optional(),
  cursor: cursorInput(patientCursor),
  limit: pageLimit(100, 25),
});

export async function searchPatients(ctx: AccessContext, input: z.output<typeof patientSearchInput>, procedure: string) {
  const page = await listPatients(ctx.db.prisma, input);
  await recordAccess(ctx, { patientIds: page.items.map((p) => p.patientId), procedure });
  return page;
}
