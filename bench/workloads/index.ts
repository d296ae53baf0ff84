// The table's rows in the order. A new capability adds its module here.
import type { Workload } from "../lib/types";
import { appendLatency } from "./appendLatency";
import { appendThroughput } from "./appendThroughput";
import { contended } from "./contended";
import { http } from "./http";
import { loadAggregate } from "./loadAggregate";
import { auditQuery } from "./auditQuery";
import { projectionRebuild } from "./projectionRebuild";
import { outboxDrain } from "./outboxDrain";
import { replay } from "./replay";

export const workloads: Workload[] = [
  appendLatency,
  appendThroughput,
  contended,
  loadAggregate,
  replay,
  projectionRebuild,
  outboxDrain,
  auditQuery,
  http,
];
