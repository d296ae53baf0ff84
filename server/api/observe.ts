// What every tRPC call leaves behind: one JSON log line (procedure, correlation id, user id,
// duration, outcome) and its latency and error metrics. Never its input or output.
import { componentLogger } from "../log";
import { recordRequest } from "../metrics/registry";

export type CallOutcome = { procedure: string; type: string; correlationId: string; userId: string | null; startedAt: number; code: string };

export function callObserved(call: CallOutcome): void {
  const ms = performance.now() - call.startedAt;
  recordRequest(call.procedure, call.type, ms / 1000, call.code);
  const line = {
    procedure: call.procedure,
    type: call.type,
    correlationId: call.correlationId,
    userId: call.userId,
    durationMs: Math.round(ms * 10) / 10,
    outcome: call.code === "OK" ? "ok" : call.code,
  };
  const log = componentLogger("trpc");
  if (call.code === "INTERNAL_SERVER_ERROR") log.error(line, "request failed");
  else log.info(line, "request");
}
