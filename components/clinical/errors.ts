// Reading tRPC errors in the browser: the code, per-field messages (zod or domain), and friendly
// text for the domain's invariant rules.
import type { DomainErrorData } from "@/server/api/errors";

export type ServerError = {
  code: string | null;
  message: string;
  /** Full dotted input path ("changes.email", "details.description") -> its first message. */
  fieldErrors: Record<string, string>;
  domain: DomainErrorData | null;
  /** The request's correlation id: what support looks the server's log up by. */
  correlationId: string | null;
};

/** One input problem as the server's errorFormatter sends it: the full dotted path ("" for the input as a whole). */
type Issue = { path: string; message: string };

type ErrorShape = {
  message?: string;
  data?: {
    code?: string;
    issues?: Issue[] | null;
    domain?: DomainErrorData | null;
    correlationId?: string | null;
  } | null;
};

export function readError(error: unknown): ServerError {
  const e = (error ?? {}) as ErrorShape;
  const data = e.data ?? null;
  const fieldErrors: Record<string, string> = {};
  const issues = data?.issues ?? null;
  for (const issue of issues ?? []) {
    if (issue.path && !(issue.path in fieldErrors)) fieldErrors[issue.path] = issue.message;
  }
  const domain = data?.domain ?? null;
  if (domain?.kind === "validation" && domain.field) {
    // The domain says "details.dose: applies to medication orders only": keep the words after the field.
    const text = e.message ?? "";
    fieldErrors[domain.field] = text.startsWith(`${domain.field}: `) ? text.slice(domain.field.length + 2) : text;
  }
  // With input issues the server's message is zod's multi-line report; one line reads better.
  const message = issues?.length ? issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join("; ") : e.message;
  return { code: data?.code ?? null, message: message ?? "Something went wrong", fieldErrors, domain, correlationId: data?.correlationId ?? null };
}

/** The first message at `path` or anywhere under it ("resultData" also finds "resultData.Hb.unit"). */
export function errorAt(error: ServerError, path: string): string | undefined {
  if (error.fieldErrors[path]) return error.fieldErrors[path];
  const nested = Object.keys(error.fieldErrors).find((p) => p.startsWith(`${path}.`));
  return nested ? error.fieldErrors[nested] : undefined;
}

/** The server's field errors under the form's own keys (the first message wins). */
export function fieldErrorsBy(error: ServerError, keyOf: (path: string) => string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [path, message] of Object.entries(error.fieldErrors)) out[keyOf(path)] ??= message;
  return out;
}

const ruleMessages: Record<string, string> = {
  "patient.mrn_taken": "This MRN already belongs to another patient.",
  "patient.mrn_yours": "You already registered a patient with this MRN.",
  "patient.dob_in_future": "The date of birth cannot be in the future.",
  "patient.inactive": "This patient is inactive: no new encounters or orders can be recorded.",
  "patient.already_registered": "This patient is already registered.",
  "encounter.already_started": "This encounter has already started.",
  "encounter.already_completed": "This encounter is already completed.",
  "encounter.ends_before_start": "The end time is before the encounter started.",
  "encounter.ends_in_future": "The end time cannot be in the future.",
  "encounter.starts_in_future": "The start time cannot be in the future.",
  "encounter.starts_before_birth": "The start time is before the patient's date of birth.",
  "order.scheduled_before_birth": "The scheduled time is before the patient's date of birth.",
  "order.reason_required": "Cancelling an order needs a reason.",
  "order.result_required": "Enter the result before completing this order.",
  "order.result_not_allowed": "Results are recorded only when completing a lab or imaging order.",
  "order.illegal_transition": "That status change is not allowed from the order's current status. Reload to see where it stands.",
  "order.final_status": "This order is already completed or cancelled: its status can no longer change.",
  "order.encounter_completed": "That encounter is completed. Attach the order to an open encounter, or to none.",
  "order.encounter_patient_mismatch": "That encounter belongs to another patient.",
  "event.duplicate_id": "This was already saved.",
};

export function ruleOf(error: ServerError): string | null {
  return error.domain?.kind === "invariant" ? (error.domain.rule ?? null) : null;
}

/**
 * The HTTP status of an answer that was not the API's own (a proxy's or gateway's error page):
 * an answer came, so "the server did not answer, check the connection" sends the user to look
 * at the wrong thing. null when nothing came back (no status) or the answer was tRPC's.
 */
export function gatewayStatusOf(error: unknown): number | null {
  const e = error as { data?: unknown; cause?: { gatewayStatus?: unknown } } | null;
  const status = e?.data ? null : e?.cause?.gatewayStatus;
  return typeof status === "number" ? status : null;
}

/**
 * The browser's fetch for the tRPC client: a server-error answer that is not JSON (a proxy's or
 * gateway's page) fails with its status kept (`gatewayStatus`), which the tRPC client would lose
 * when it found the body was not JSON.
 */
export async function fetchKeepingGatewayStatus(input: RequestInfo | URL, init?: RequestInit): Promise<Response> {
  const response = await fetch(input, init);
  if (response.status >= 500 && !response.headers.get("content-type")?.includes("json")) {
    throw Object.assign(new Error(`HTTP ${response.status}`), { gatewayStatus: response.status });
  }
  return response;
}

/** The sentence for an answer that was not the API's own, or for none at all. */
export function noApiAnswerMessage(error: unknown): string {
  const status = gatewayStatusOf(error);
  return status
    ? `The server, or a gateway in front of it, failed (HTTP ${status}). Try again in a moment; if it persists, tell support.`
    : "The server did not answer. Check the connection and try again.";
}

/** One sentence for a form-level alert. */
export function friendlyMessage(error: ServerError): string {
  const rule = ruleOf(error);
  if (rule && ruleMessages[rule]) return ruleMessages[rule];
  switch (error.code) {
    case "UNAUTHORIZED":
      return "Your session has ended, so this was not saved. Sign in again (what you typed is kept), then send it again.";
    case "FORBIDDEN":
      return "Your account does not have the clinician role needed for this.";
    case "NOT_FOUND":
      return "The record was not found. It may have been removed, or the link is wrong.";
    case "BAD_REQUEST":
      return Object.keys(error.fieldErrors).length > 0 ? "Some fields need attention." : error.message;
    case "CONFLICT":
      return "The record changed since you opened it. Reload and try again.";
    case "INTERNAL_SERVER_ERROR":
      return `The server could not complete this. Try again in a moment.${error.correlationId ? ` If it persists, give support this reference: ${error.correlationId}` : ""}`;
    case null:
      // No tRPC error shape: the request never reached the API, or the answer was not its own.
      return noApiAnswerMessage(null);
    default:
      return error.message;
  }
}

/** Any error, as the one sentence a load-failure message shows. */
export const errorText = (error: unknown): string => {
  const read = readError(error);
  return read.code === null ? noApiAnswerMessage(error) : friendlyMessage(read);
};

/**
 * No answer came back (connection lost, or an answer that was not the API's): the command may or
 * may not have been applied. Only sending the same command again (same command id) finds out.
 */
export const isUnanswered = (error: ServerError) => error.code === null;

/** A form's alert after an unanswered send: what happened is unknown, and how to find out safely. */
export const unansweredMessage =
  "The server did not answer, so this may or may not have been saved. Check the connection, then send it again without changing anything: if it was saved, it is not saved twice.";

export const isConflict = (error: ServerError) => error.code === "CONFLICT" && error.domain?.kind === "concurrency";

/**
 * The server refused a command because of the record as it is now (changed meanwhile, or a rule
 * about its current state): the screen that sent it is out of date and should be refetched.
 */
export const isRefusal = (error: ServerError) => error.code === "CONFLICT" || error.code === "PRECONDITION_FAILED";
