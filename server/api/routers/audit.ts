// Compliance: who read which patient's data, and when.
import { z } from "zod";
import { readAccessLog } from "../accessLog";
import { complianceProcedure, router } from "../trpc";

const id = z.string().trim().min(1).max(100);

export const auditRouter = router({
  /** The read-access log, newest first; filter by patient, user and time ([from, to)). */
  accessLog: complianceProcedure
    .input(
      z
        .object({
          patientId: id.optional(),
          userId: id.optional(),
          from: z.date().optional(),
          to: z.date().optional(),
          cursor: z.string().regex(/^\d{1,19}$/, "cursor must be a row id").optional(),
          limit: z.int().min(1).max(200).default(50),
        })
        .refine((f) => !f.from || !f.to || f.from < f.to, { message: "from must be before to", path: ["to"] }),
    )
    .query(({ ctx, input }) => readAccessLog(ctx.db, input)),
});
