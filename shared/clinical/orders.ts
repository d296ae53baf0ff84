// Order value lists (kinds, priorities, statuses) and the place-order form's schema. Pure, shared by
// the order decider and the console's forms and filters.

import { z } from "zod";
import { instantsAtWallTime } from "../wallTime";
import type { ResultData } from "../../server/domain/order/events";
import { boundedJsonObject } from "../json";
import { text } from "../text";
import { allergyConflicts, allergyOverrideReasonSchema, type Allergy } from "./safety";

export const orderKinds = ["lab", "imaging", "medication", "procedure", "referral"] as const;
export type OrderKind = (typeof orderKinds)[number];

export const orderPriorities = ["routine", "urgent", "stat"] as const;
export type OrderPriority = (typeof orderPriorities)[number];

export const orderStatuses = ["placed", "on_hold", "in_progress", "completed", "cancelled"] as const;
export type OrderStatus = (typeof orderStatuses)[number];

/** Open orders older than this (from placement, or from their scheduled time when later) are overdue. */
export const overdueAfterMinutes: Record<OrderPriority, number> = { stat: 60, urgent: 4 * 60, routine: 24 * 60 };

/** Statuses an order is still to be done in: the ones that can be overdue. */
export const openOrderStatuses: readonly OrderStatus[] = ["placed", "on_hold", "in_progress"];

/**
 * Minutes an open order is past its priority's threshold at `now` (counted from when it was placed,
 * or from its scheduled time when that is later), or null when it is not overdue. The turnaround
 * report counts overdue orders by the same rule in SQL.
 */
export function overdueMinutes(order: { status: string; priority: string; createdAt: Date; scheduledFor: Date | null }, now: Date): number | null {
  if (!openOrderStatuses.includes(order.status as OrderStatus)) return null;
  const threshold = overdueAfterMinutes[order.priority as OrderPriority];
  if (threshold === undefined) return null;
  const dueFrom = Math.max(order.createdAt.getTime(), order.scheduledFor?.getTime() ?? 0);
  const past = (now.getTime() - dueFrom) / 60_000 - threshold;
  return past > 0 ? Math.floor(past) : null;
}

/** Kinds whose completion carries the result itself (values, report text). */
export const resultingKinds: readonly OrderKind[] = ["lab", "imaging"];

// ---- the console's order form -------------------------------------------------------------------
// What the place-order form holds (strings, as inputs give them), checked with the rules the
// server applies to the command (server/domain/order/events.ts: orderDetailsSchema).

const optionalDetail = (max: number) => text(max, { maxMessage: `At most ${max} characters.` });

export const placeOrderFormSchema = z.object({
  kind: z.enum(orderKinds),
  priority: z.enum(orderPriorities),
  encounterId: z.string(),
  description: text(1000, { min: 1, minMessage: "Describe what is ordered.", maxMessage: "At most 1000 characters." }),
  code: optionalDetail(64),
  dose: optionalDetail(100),
  route: optionalDetail(100),
  frequency: optionalDetail(100),
  /** A datetime-local value in the browser's zone, or empty; not one the clocks skip. */
  scheduledFor: z
    .string()
    .refine((v) => v === "" || instantsAtWallTime(v) !== undefined, "Enter a date and time.")
    .refine(
      (v) => v === "" || instantsAtWallTime(v)?.length !== 0,
      "That time does not exist here: the clocks go forward that night and skip it. Enter a time before or after the change.",
    ),
  /** When the clocks go back and the time happens twice: the second of the two (the first otherwise). */
  scheduledForSecond: z.boolean(),
  allergyOverrideReason: z.string(),
});
export type PlaceOrderForm = z.input<typeof placeOrderFormSchema>;

/**
 * The form's schema for one patient: a medication that matches an active allergy needs the
 * override reason (the decider's rule, checked before sending). `serverConflict` when the server
 * refused for an allergy this screen did not know of yet.
 */
export function placeOrderFormFor(allergies: readonly Allergy[], serverConflict: boolean) {
  return placeOrderFormSchema.superRefine((form, ctx) => {
    const conflicts = form.kind === "medication" ? allergyConflicts({ description: form.description, code: form.code }, allergies) : [];
    if (conflicts.length === 0 && !serverConflict) return;
    const reason = allergyOverrideReasonSchema.safeParse(form.allergyOverrideReason);
    if (!reason.success) {
      ctx.addIssue({ code: "custom", path: ["allergyOverrideReason"], message: `To order it despite the allergy, ${reason.error.issues[0]?.message ?? "give a reason"}.` });
    }
  });
}

// ---- changing an order's status -------------------------------------------------------------------

/**
 * A result as a client may send it: JSON of at most 64 KB, 8 levels and 10,000 characters per
 * value. Reports are text; images and documents belong in a document store, not the event log.
 */
export const resultDataInput = boundedJsonObject({ maxBytes: 64 * 1024, maxDepth: 8, maxStringLength: 10_000 });

/** What `order.changeStatus` takes (with the expected version and command id). */
export const changeOrderStatusInput = z.object({
  orderId: z.uuid(),
  newStatus: z.enum(orderStatuses),
  /** Required when cancelling. */
  reason: text(500).nullish(),
  /** Required when completing a lab or imaging order; refused otherwise. */
  resultData: resultDataInput.nullish(),
});

/** HL7 abnormal flags a value may carry; HH, LL and AA put a critical-result notice on the chart. */
export const resultFlags = [
  { code: "", text: "—" },
  { code: "N", text: "Normal" },
  { code: "H", text: "High" },
  { code: "L", text: "Low" },
  { code: "A", text: "Abnormal" },
  { code: "HH", text: "Critical high" },
  { code: "LL", text: "Critical low" },
  { code: "AA", text: "Critical abnormal" },
] as const;

/** One line of a result as the form holds it. */
export type ResultRow = { name: string; value: string; unit: string; flag: string };
export const emptyResultRow = (): ResultRow => ({ name: "", value: "", unit: "", flag: "" });

/** Rows and a report text as the JSON object `resultData`; numbers stay numbers. */
export function buildResultData(rows: readonly ResultRow[], report: string): ResultData {
  const out: ResultData = {};
  for (const r of rows) {
    const name = r.name.trim();
    const raw = r.value.trim();
    if (!name || !raw) continue;
    const value = /^-?\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw;
    const unit = r.unit.trim();
    out[name] = unit || r.flag ? { value, ...(unit ? { unit } : {}), ...(r.flag ? { flag: r.flag } : {}) } : value;
  }
  if (report.trim()) out.report = report.trim();
  return out;
}

const resultRowSchema = z.object({ name: z.string(), value: z.string(), unit: z.string(), flag: z.string() });

/**
 * The status form for an order of `kind`: a status is chosen, a reason is given to cancel, and a
 * lab or imaging order's completion carries its result (as `resultDataInput` accepts it). The
 * output is what `order.changeStatus` takes besides the order's id and version.
 */
export function orderStatusFormFor(kind: string) {
  const resulting = (resultingKinds as readonly string[]).includes(kind);
  return z
    .object({
      newStatus: z.string().pipe(z.enum(orderStatuses, { error: "Choose the new status." })),
      reason: text(500, { maxMessage: "At most 500 characters." }),
      result: z.object({ rows: z.array(resultRowSchema), report: z.string() }),
    })
    .superRefine((form, ctx) => {
      if (form.newStatus === "cancelled" && !form.reason) ctx.addIssue({ code: "custom", path: ["reason"], message: "Enter why the order is cancelled." });
      if (form.newStatus !== "completed" || !resulting) return;
      // The message on the result as a whole first; the rows it concerns are marked after it.
      const fail = (message: string, rows: number[]) => {
        ctx.addIssue({ code: "custom", path: ["result"], message });
        for (const i of rows) ctx.addIssue({ code: "custom", path: ["result", "rows", i, "name"], message });
      };
      const unnamed = form.result.rows.flatMap((r, i) => (r.value.trim() && !r.name.trim() ? [i] : []));
      if (unnamed.length > 0) return fail("Name each value (e.g. Hemoglobin).", unnamed);
      const data = buildResultData(form.result.rows, form.result.report);
      if (Object.keys(data).length === 0) return fail("Enter at least one result value or a report.", [0]);
      const checked = resultDataInput.safeParse(data);
      if (!checked.success) fail(`The result: ${checked.error.issues[0]?.message ?? "it cannot be stored"}.`, []);
    })
    .transform(({ newStatus, reason, result }) => ({
      newStatus,
      reason: reason || null,
      resultData: newStatus === "completed" && resulting ? buildResultData(result.rows, result.report) : null,
    }));
}
export type OrderStatusForm = z.input<ReturnType<typeof orderStatusFormFor>>;
