"use client";
// Moving an order through its state machine: only the next statuses the server offers, a reason
// (required to cancel), and the result when a lab or imaging order completes.
import { useMutation } from "@tanstack/react-query";
import { useId, useRef, useState, type FormEvent } from "react";
import { useTRPC } from "@/components/trpc";
import { resultingKinds, type OrderKind, type OrderStatus } from "@/shared/clinical/orders";
import type { ResultData } from "@/server/domain/order/events";
import { errorAt, friendlyMessage, isConflict, readError, ruleOf } from "./errors";
import {
  ChangedSinceOpened,
  Field,
  FormError,
  InlineFormActions,
  fieldProps,
  useCommandForm,
  useFocusFirstField,
  type FieldErrors,
  type InlineFormProps,
} from "./form";
import { label, statusBadgeClass } from "@/components/format";
import type { OrderRef } from "./types";
import { useChartRefresh } from "./useChartRefresh";

type ResultRow = { key: number; name: string; value: string; unit: string; flag: string };

/** HL7 abnormal flags a value may carry; HH, LL and AA put a critical-result notice on the chart. */
const resultFlags = [
  { code: "", text: "—" },
  { code: "N", text: "Normal" },
  { code: "H", text: "High" },
  { code: "L", text: "Low" },
  { code: "A", text: "Abnormal" },
  { code: "HH", text: "Critical high" },
  { code: "LL", text: "Critical low" },
  { code: "AA", text: "Critical abnormal" },
] as const;

/** The submit button's words for each target status. */
const verbs: Partial<Record<OrderStatus, string>> = {
  in_progress: "Start order",
  on_hold: "Put on hold",
  placed: "Resume order",
  completed: "Complete order",
  cancelled: "Cancel order",
};

const choiceLabels: Partial<Record<OrderStatus, string>> = { placed: "Placed (resume)" };

/** Rows and a report text as the JSON object `resultData`; numbers stay numbers. */
export function buildResultData(rows: ResultRow[], report: string): ResultData {
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

export function OrderStatusChange({ order, onDone, onClose }: { order: OrderRef } & InlineFormProps) {
  const trpc = useTRPC();
  const refresh = useChartRefresh(order.patientId);
  const refreshAll = () => refresh(trpc.order.worklist.pathKey());
  const uid = useId();
  const id = (name: string) => `${uid}-${name}`;
  const formRef = useRef<HTMLFormElement>(null);
  const form = useCommandForm(formRef);
  const { errors, commandId } = form;
  const [newStatus, setNewStatus] = useState<OrderStatus | "">(order.nextStatuses.length === 1 ? order.nextStatuses[0]! : "");
  const [reason, setReason] = useState("");
  const [rows, setRows] = useState<ResultRow[]>([{ key: 0, name: "", value: "", unit: "", flag: "" }]);
  const [report, setReport] = useState("");
  /** Result rows to mark invalid (a value without a name), or the first row when none was entered. */
  const [badRows, setBadRows] = useState<number[]>([]);
  const [conflict, setConflict] = useState(false);
  useFocusFirstField(formRef);

  const needsResult = newStatus === "completed" && resultingKinds.includes(order.kind as OrderKind);
  const reasonRequired = newStatus === "cancelled";

  const change = useMutation(
    trpc.order.changeStatus.mutationOptions({
      onSuccess: async (result, sent) => {
        commandId.reset();
        await refreshAll();
        // A re-sent command that changed nothing: its earlier send made the change.
        onDone(
          result.changed || commandId.resent(sent.commandId)
            ? `Order “${order.description}” is now ${label(result.status).toLowerCase()}.`
            : `Order “${order.description}” was already ${label(result.status).toLowerCase()}; nothing changed.`,
        );
      },
      onError: (error) => {
        const e = readError(error);
        if (isConflict(e)) {
          setConflict(true);
          form.setFormError(null);
          return;
        }
        const rule = ruleOf(e);
        const fields: FieldErrors = {};
        const reasonError = errorAt(e, "reason");
        const resultError = errorAt(e, "resultData");
        if (rule === "order.reason_required" || reasonError) fields.reason = reasonError ?? "Enter why the order is cancelled.";
        if (rule === "order.result_required" || resultError) {
          fields.result = resultError ?? "Enter at least one result value or a report.";
          setBadRows([rows[0]?.key ?? 0]);
        }
        form.fail(fields, friendlyMessage(e));
      },
    }),
  );

  /** Any change of what would be sent: a new command, and the alert no longer applies. */
  const edit = (key?: string) => {
    form.edited(key);
    form.setFormError(null);
  };

  const onSubmit = (event: FormEvent) => {
    event.preventDefault();
    if (change.isPending) return;
    const found: FieldErrors = {};
    if (!newStatus) found.newStatus = "Choose the new status.";
    if (reasonRequired && !reason.trim()) found.reason = "Enter why the order is cancelled.";
    if (reason.trim().length > 500) found.reason = "At most 500 characters.";
    const resultData = needsResult ? buildResultData(rows, report) : null;
    let bad: number[] = [];
    if (needsResult) {
      bad = rows.filter((r) => r.value.trim() && !r.name.trim()).map((r) => r.key);
      if (bad.length > 0) found.result = "Name each value (e.g. Hemoglobin).";
      else if (Object.keys(resultData ?? {}).length === 0) {
        found.result = "Enter at least one result value or a report.";
        bad = [rows[0]?.key ?? 0];
      }
    }
    setBadRows(bad);
    if (!form.passes(found) || !newStatus) return;
    change.mutate({
      orderId: order.orderId,
      newStatus,
      reason: reason.trim() || null,
      resultData,
      expectedVersion: order.version,
      commandId: commandId.get(),
    });
  };

  if (conflict) {
    return (
      <ChangedSinceOpened
        title="This order changed since you opened it — reload"
        message="Someone else changed this order. Reload it to see its current status, then choose again."
        action="Reload order"
        onReload={async () => {
          await refreshAll();
          onClose();
        }}
      />
    );
  }

  return (
    <form ref={formRef} className="inline-form stack" onSubmit={onSubmit} noValidate aria-label={`Change status of ${order.description}`}>
      <FormError message={form.formError} />
      <fieldset className="choices" aria-describedby={errors.newStatus ? id("newStatus-error") : undefined}>
        <legend>
          New status <span className="muted">(now <span className={statusBadgeClass(order.status)}>{label(order.status)}</span>)</span>
        </legend>
        <div className="choice-row">
          {order.nextStatuses.map((s) => (
            <label key={s} className="choice">
              <input
                type="radio"
                name={id("newStatus")}
                value={s}
                checked={newStatus === s}
                data-invalid={errors.newStatus ? true : undefined}
                onChange={() => {
                  edit();
                  setNewStatus(s);
                  form.clearErrors();
                }}
              />
              {choiceLabels[s] ?? label(s)}
            </label>
          ))}
        </div>
        {errors.newStatus ? (
          <span className="error" id={id("newStatus-error")}>
            {errors.newStatus}
          </span>
        ) : null}
      </fieldset>

      {needsResult ? (
        <fieldset className="group" aria-describedby={errors.result ? id("result-error") : undefined}>
          <legend>Result</legend>
          <table className="result-rows">
            <thead>
              <tr>
                <th scope="col" id={id("h-name")}>
                  Test / finding
                </th>
                <th scope="col" id={id("h-value")}>
                  Value
                </th>
                <th scope="col" id={id("h-unit")}>
                  Unit
                </th>
                <th scope="col" id={id("h-flag")}>
                  Flag
                </th>
                <th scope="col">
                  <span className="sr-only">Remove</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r, i) => {
                const set = (patch: Partial<ResultRow>) => {
                  edit("result");
                  setRows((all) => all.map((x) => (x.key === r.key ? { ...x, ...patch } : x)));
                };
                return (
                  <tr key={r.key}>
                    <td>
                      <input
                        aria-label={`Test or finding, row ${i + 1}`}
                        value={r.name}
                        onChange={(e) => set({ name: e.target.value })}
                        aria-invalid={errors.result && badRows.includes(r.key) ? true : undefined}
                        aria-describedby={errors.result ? id("result-error") : undefined}
                        placeholder={i === 0 ? "e.g. Hemoglobin" : undefined}
                      />
                    </td>
                    <td>
                      <input aria-label={`Value, row ${i + 1}`} value={r.value} onChange={(e) => set({ value: e.target.value })} placeholder={i === 0 ? "13.5" : undefined} />
                    </td>
                    <td>
                      <input aria-label={`Unit, row ${i + 1}`} value={r.unit} onChange={(e) => set({ unit: e.target.value })} placeholder={i === 0 ? "g/dL" : undefined} className="short" />
                    </td>
                    <td>
                      <select
                        aria-label={`Flag, row ${i + 1}`}
                        value={r.flag}
                        onChange={(e) => set({ flag: e.target.value })}
                        className={r.flag === "HH" || r.flag === "LL" || r.flag === "AA" ? "short critical" : "short"}
                      >
                        {resultFlags.map((f) => (
                          <option key={f.code} value={f.code}>
                            {f.text}
                          </option>
                        ))}
                      </select>
                    </td>
                    <td>
                      {rows.length > 1 ? (
                        <button
                          type="button"
                          className="secondary small"
                          aria-label={`Remove row ${i + 1}`}
                          onClick={() => {
                            edit("result");
                            setRows((all) => all.filter((x) => x.key !== r.key));
                          }}
                        >
                          ×
                        </button>
                      ) : null}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
          <div className="actions">
            <button
              type="button"
              className="secondary small"
              onClick={() => setRows((all) => [...all, { key: Math.max(...all.map((x) => x.key)) + 1, name: "", value: "", unit: "", flag: "" }])}
            >
              Add value
            </button>
          </div>
          <Field id={id("report")} label="Report / comment" optional>
            <textarea
              {...fieldProps(id("report"))}
              rows={2}
              value={report}
              onChange={(e) => {
                edit("result");
                setReport(e.target.value);
              }}
            />
          </Field>
          {errors.result ? (
            <span className="error" id={id("result-error")}>
              {errors.result}
            </span>
          ) : null}
        </fieldset>
      ) : null}

      <Field id={id("reason")} label="Reason" error={errors.reason} required={reasonRequired} optional={!reasonRequired} hint={reasonRequired ? "Required when cancelling" : undefined}>
        <textarea
          {...fieldProps(id("reason"), errors.reason, reasonRequired ? "Required when cancelling" : undefined)}
          rows={2}
          maxLength={500}
          value={reason}
          onChange={(e) => {
            edit("reason");
            setReason(e.target.value);
          }}
        />
      </Field>

      <InlineFormActions
        pending={change.isPending}
        submit={newStatus ? (verbs[newStatus] ?? "Save status") : "Save status"}
        sending="Saving…"
        danger={newStatus === "cancelled"}
        onClose={onClose}
      />
    </form>
  );
}
