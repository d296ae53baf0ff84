import { afterEach, describe, expect, it } from "vitest";
import { buildResultData, changeOrderStatusInput, emptyResultRow, orderStatusFormFor, overdueMinutes, placeOrderFormSchema, type OrderStatusForm } from "./orders";
import { criticalFindings } from "./results";

const orderId = "0b7f7f4e-4a43-4b8e-9d51-5f1c2a9e7a10";
const form = (patch: Partial<OrderStatusForm>): OrderStatusForm => ({ newStatus: "", reason: "", result: { rows: [emptyResultRow()], report: "" }, ...patch });
const row = (name: string, value: string, unit = "", flag = "") => ({ name, value, unit, flag });

/** Path -> first message, as react-hook-form's resolver would mark the fields. */
function marked(kind: string, values: OrderStatusForm): Record<string, string> {
  const result = orderStatusFormFor(kind).safeParse(values);
  const out: Record<string, string> = {};
  if (!result.success) for (const i of result.error.issues) out[i.path.join(".")] ??= i.message;
  return out;
}

describe("buildResultData", () => {
  it("keeps a value's unit and flag, and a critical flag is what the reaction reads", () => {
    const result = buildResultData(
      [row("Potassium", "6.9", "mmol/L", "HH"), row("Sodium", "140", "mmol/L"), row("Culture", "no growth", "", "N"), row("Glucose", "5.1")],
      "Phoned to ward",
    );
    expect(result).toEqual({
      Potassium: { value: 6.9, unit: "mmol/L", flag: "HH" },
      Sodium: { value: 140, unit: "mmol/L" },
      Culture: { value: "no growth", flag: "N" },
      Glucose: 5.1,
      report: "Phoned to ward",
    });
    expect(criticalFindings(result).map((f) => f.name)).toEqual(["Potassium"]);
  });
});

describe("orderStatusFormFor", () => {
  it("wants a status, and a reason to cancel", () => {
    expect(marked("lab", form({}))).toEqual({ newStatus: "Choose the new status." });
    expect(marked("medication", form({ newStatus: "cancelled", reason: "  " }))).toEqual({ reason: "Enter why the order is cancelled." });
    expect(marked("medication", form({ newStatus: "on_hold", reason: "x".repeat(501) }))).toEqual({ reason: "At most 500 characters." });
  });

  it("wants a lab or imaging completion's result, and names the rows it concerns", () => {
    expect(marked("lab", form({ newStatus: "completed" }))).toEqual({
      result: "Enter at least one result value or a report.",
      "result.rows.0.name": "Enter at least one result value or a report.",
    });
    expect(marked("imaging", form({ newStatus: "completed", result: { rows: [row("Hb", "13"), row("", "7")], report: "" } }))).toEqual({
      result: "Name each value (e.g. Hemoglobin).",
      "result.rows.1.name": "Name each value (e.g. Hemoglobin).",
    });
    expect(marked("lab", form({ newStatus: "completed", result: { rows: [emptyResultRow()], report: "x".repeat(10_001) } }))).toEqual({
      result: "The result: a value may be at most 10000 characters.",
    });
    // A procedure completes without a result.
    expect(marked("procedure", form({ newStatus: "completed" }))).toEqual({});
  });

  it("sends what order.changeStatus takes", () => {
    const lab = orderStatusFormFor("lab").parse(form({ newStatus: "completed", result: { rows: [row("Hemoglobin", "13.5", "g/dL")], report: "" } }));
    expect(lab).toEqual({ newStatus: "completed", reason: null, resultData: { Hemoglobin: { value: 13.5, unit: "g/dL" } } });
    expect(changeOrderStatusInput.safeParse({ orderId, ...lab }).success).toBe(true);
    const cancel = orderStatusFormFor("lab").parse(form({ newStatus: "cancelled", reason: " Duplicate order ", result: { rows: [row("Hb", "1")], report: "" } }));
    expect(cancel).toEqual({ newStatus: "cancelled", reason: "Duplicate order", resultData: null });
    expect(changeOrderStatusInput.safeParse({ orderId, ...cancel }).success).toBe(true);
  });
});

describe("overdueMinutes: the worklist's and the turnaround report's one rule", () => {
  const placed = new Date("2026-11-29T08:00:00Z");
  const at = (iso: string) => new Date(iso);
  const order = (o: Partial<{ status: string; priority: string; scheduledFor: Date | null }> = {}) => ({
    status: "placed",
    priority: "stat",
    createdAt: placed,
    scheduledFor: null,
    ...o,
  });

  it("counts from placement past the priority's threshold", () => {
    expect(overdueMinutes(order(), at("2026-11-29T09:00:00Z"))).toBeNull();
    expect(overdueMinutes(order(), at("2026-11-29T09:30:00Z"))).toBe(30);
    expect(overdueMinutes(order({ priority: "urgent" }), at("2026-11-29T11:59:00Z"))).toBeNull();
    expect(overdueMinutes(order({ priority: "routine" }), at("2026-11-30T08:01:00Z"))).toBe(1);
  });

  it("counts from the scheduled time when that is later", () => {
    expect(overdueMinutes(order({ scheduledFor: at("2026-11-29T12:00:00Z") }), at("2026-11-29T12:30:00Z"))).toBeNull();
    expect(overdueMinutes(order({ scheduledFor: at("2026-11-29T12:00:00Z") }), at("2026-11-29T13:10:00Z"))).toBe(10);
  });

  it("never marks a completed or cancelled order", () => {
    for (const status of ["completed", "cancelled"]) expect(overdueMinutes(order({ status }), at("2026-12-29T00:00:00Z"))).toBeNull();
    for (const status of ["on_hold", "in_progress"]) expect(overdueMinutes(order({ status }), at("2026-11-29T10:00:00Z"))).toBe(60);
  });
});

describe("the place-order form's scheduled time on the nights the clocks change (America/New_York)", () => {
  const saved = process.env.TZ;
  afterEach(() => {
    if (saved === undefined) delete process.env.TZ;
    else process.env.TZ = saved;
  });
  const form = (scheduledFor: string) => ({
    kind: "lab",
    priority: "routine",
    encounterId: "",
    description: "Lactate",
    code: "",
    dose: "",
    route: "",
    frequency: "",
    scheduledFor,
    scheduledForSecond: false,
    allergyOverrideReason: "",
  });

  it("refuses a time the clocks skip, naming the field; accepts one they repeat and an ordinary one", () => {
    process.env.TZ = "America/New_York";
    const skipped = placeOrderFormSchema.safeParse(form("2026-03-08T02:30"));
    expect(skipped.error?.issues.map((i) => [i.path.join("."), i.message])).toEqual([["scheduledFor", expect.stringContaining("does not exist")]]);
    for (const ok of ["", "2026-11-01T01:30", "2026-03-08T03:30"]) expect(placeOrderFormSchema.safeParse(form(ok)).success, ok).toBe(true);
    expect(placeOrderFormSchema.safeParse(form("2026-13-01T10:00")).error?.issues[0]?.message).toBe("Enter a date and time.");
  });
});
