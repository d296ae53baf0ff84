import { adminRouter } from "./routers/admin";
import { projectionsRouter } from "./routers/projections";
import { auditRouter } from "./routers/audit";
import { observabilityRouter } from "./routers/observability";
import { encounterRouter } from "./routers/encounter";
import { orderRouter } from "./routers/order";
import { patientRouter } from "./routers/patient";
import { reportsRouter } from "./routers/reports";
import { systemRouter } from "./routers/system";
import { usersRouter } from "./routers/users";
import { enrolmentRouter } from "./routers/enrolment";
import { createCallerFactory, router } from "./trpc";

export const appRouter = router({
  system: systemRouter,
  patient: patientRouter,
  encounter: encounterRouter,
  order: orderRouter,
  audit: auditRouter,
  reports: reportsRouter,
  users: usersRouter,
  enrolment: enrolmentRouter,
  admin: adminRouter,
  observability: observabilityRouter,
  projections: projectionsRouter,
});

export type AppRouter = typeof appRouter;
export const createCaller = createCallerFactory(appRouter);
