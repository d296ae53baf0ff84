// The aggregates whose state is folded and snapshotted (the clinical ones): the admin's snapshot
// figures and checks, and the historic snapshot backfill, go through each of them.
import { encounterDecider } from "./encounter/decider";
import { orderDecider } from "./order/decider";
import { patientDecider } from "./patient/decider";

export const snapshotted = [patientDecider, encounterDecider, orderDecider] as const;
