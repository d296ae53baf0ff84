"use client";
// Moving an order through its state machine: only the next statuses the server offers, a reason
// (required to cancel), and the result when a lab or imaging order completes.
import { useMutation } from "@tanstack/react-query";
import { useEffect, useId, useMemo, useRef, useState } from "react";
import { useFieldArray, useWatch } from "react-hook-form";
import { errorOf, formAlert, useSchemaForm } from "@/components/forms/useSchemaForm";
import { useTRPC } from "@/components/trpc";
import { emptyResultRow, orderStatusFormFor, resultFlags, resultingKinds, type OrderKind, type OrderStatus } from "@/shared/clinical/orders";
import { criticalFlags } from "@/shared/clinical/results";
import { errorAt, isConflict, readError, ruleOf } from "./errors";
import { ChangedSinceOpened, Field, FormError, InlineFormActions, fieldProps, useFocusFirstField, type InlineFormProps } from "./form";
import { label, statusBadgeClass } from "@/components/format";
import type { OrderRef } from "./types";
import { useChartRefresh } from "./useChartRefresh";

/** The submit button's words for each target status. */
const verbs: Partial<Record<OrderStatus, string>> = {
  in_progress: "Start order",
  on_hold: "Put on hold",
  placed: "Resume order",
  completed: "Complete order",
  cancelled: "Cancel order",
};

const choiceLabels: Partial<Record<OrderStatus, string>> = { placed: "Placed (resume)" };

export function OrderStatusChange({ order, onDone, onClose }: { order: OrderRef } & InlineFormProps) {
  const trpc = useTRPC();
  const refresh = useChartRefresh(order.patientId);
  const refreshAll = () => refresh(trpc.order.worklist.pathKey());
  const uid = useId();
  const id = (name: string) => `${uid}-${name}`;
  const formRef = useRef<HTMLFormElement>(null);
  const schema = useMemo(() => orderStatusFormFor(order.kind), [order.kind]);
  const { form, commandId, formError, setFormError, failFromServer } = useSchemaForm(schema, {
    newStatus: order.nextStatuses.length === 1 ? order.nextStatuses[0]! : "",
    reason: "",
    result: { rows: [emptyResultRow()], report: "" },
  });
  const { register, control } = form;
  const errors = form.formState.errors as Record<string, unknown>;
  const rows = useFieldArray({ control, name: "result.rows" });
  const newStatus = useWatch({ control, name: "newStatus" }) as OrderStatus | "";
  const flags = useWatch({ control, name: "result.rows" }).map((r) => r?.flag ?? "");
  const [conflict, setConflict] = useState(false);
  useFocusFirstField(formRef);
  // Any change of what would be sent: the form's alert no longer applies.
  useEffect(() => form.subscribe({ formState: { values: true }, callback: () => setFormError(null) }), [form, setFormError]);

  const needsResult = newStatus === "completed" && resultingKinds.includes(order.kind as OrderKind);
  const reasonRequired = newStatus === "cancelled";
  const resultError = errorOf(errors, "result");
  const reasonError = errorOf(errors, "reason");
  const statusError = errorOf(errors, "newStatus");

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
        if (isConflict(readError(error))) {
          setConflict(true);
          setFormError(null);
          return;
        }
        failFromServer(error, undefined, {
          // The server names the command's resultData; the form holds it as rows.
          keyOf: (path) => (path === "resultData" || path.startsWith("resultData.") ? "result" : path),
          fields: (e) => ({
            reason: ruleOf(e) === "order.reason_required" && !errorAt(e, "reason") ? "Enter why the order is cancelled." : undefined,
            result: ruleOf(e) === "order.result_required" && !errorAt(e, "resultData") ? "Enter at least one result value or a report." : undefined,
          }),
        });
      },
    }),
  );

  const onSubmit = form.handleSubmit((values) => {
    if (change.isPending) return;
    setFormError(null);
    change.mutate({ orderId: order.orderId, ...values, expectedVersion: order.version, commandId: commandId.get() });
  });

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
      <FormError message={formAlert(formError, errors)} />
      <fieldset className="choices" aria-describedby={statusError ? id("newStatus-error") : undefined}>
        <legend>
          New status <span className="muted">(now <span className={statusBadgeClass(order.status)}>{label(order.status)}</span>)</span>
        </legend>
        <div className="choice-row">
          {order.nextStatuses.map((s) => (
            <label key={s} className="choice">
              <input
                type="radio"
                value={s}
                data-invalid={statusError ? true : undefined}
                {...register("newStatus", { onChange: () => form.clearErrors() })}
              />
              {choiceLabels[s] ?? label(s)}
            </label>
          ))}
        </div>
        {statusError ? (
          <span className="error" id={id("newStatus-error")}>
            {statusError}
          </span>
        ) : null}
      </fieldset>

      {needsResult ? (
        <fieldset className="group" aria-describedby={resultError ? id("result-error") : undefined}>
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
              {rows.fields.map((r, i) => {
                const flag = flags[i] ?? "";
                return (
                  <tr key={r.id}>
                    <td>
                      <input
                        aria-label={`Test or finding, row ${i + 1}`}
                        {...register(`result.rows.${i}.name`)}
                        aria-invalid={errorOf(errors, `result.rows.${i}.name`) ? true : undefined}
                        aria-describedby={resultError ? id("result-error") : undefined}
                        placeholder={i === 0 ? "e.g. Hemoglobin" : undefined}
                      />
                    </td>
                    <td>
                      <input aria-label={`Value, row ${i + 1}`} {...register(`result.rows.${i}.value`)} placeholder={i === 0 ? "13.5" : undefined} />
                    </td>
                    <td>
                      <input aria-label={`Unit, row ${i + 1}`} {...register(`result.rows.${i}.unit`)} placeholder={i === 0 ? "g/dL" : undefined} className="short" />
                    </td>
                    <td>
                      <select
                        aria-label={`Flag, row ${i + 1}`}
                        {...register(`result.rows.${i}.flag`)}
                        className={criticalFlags.includes(flag) ? "short critical" : "short"}
                      >
                        {resultFlags.map((f) => (
                          <option key={f.code} value={f.code}>
                            {f.text}
                          </option>
                        ))}
                      </select>
                    </td>
                    <td>
                      {rows.fields.length > 1 ? (
                        <button
                          type="button"
                          className="secondary small"
                          aria-label={`Remove row ${i + 1}`}
                          onClick={() => rows.remove(i)}
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
              onClick={() => rows.append(emptyResultRow(), { shouldFocus: false })}
            >
              Add value
            </button>
          </div>
          <Field id={id("report")} label="Report / comment" optional>
            <textarea {...fieldProps(id("report"))} {...register("result.report")} rows={2} />
          </Field>
          {resultError ? (
            <span className="error" id={id("result-error")}>
              {resultError}
            </span>
          ) : null}
        </fieldset>
      ) : null}

      <Field id={id("reason")} label="Reason" error={reasonError} required={reasonRequired} optional={!reasonRequired} hint={reasonRequired ? "Required when cancelling" : undefined}>
        <textarea {...fieldProps(id("reason"), reasonError, reasonRequired ? "Required when cancelling" : undefined)} {...register("reason")} rows={2} maxLength={500} />
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
