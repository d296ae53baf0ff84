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
import { errorAt, isConflict, isRefusal, isUnanswered, readError, ruleOf } from "./errors";
import { ChangedSinceOpened } from "./ChangedSinceOpened";
import { Field, FormError, InlineFormActions, fieldProps, useFocusFirstField, type InlineFormProps } from "./form";
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
  // The order as the clinician saw it when the form opened: the change is decided on that version.
  // Taken from the live prop, a refetch of the chart (focus, polling, another save) would move the
  // form onto a version nobody looked at, and a change made meanwhile would go through unseen.
  const [opened, setOpened] = useState(order);
  // The server refused the change as a conflict, before the chart had shown a newer version.
  const [refused, setRefused] = useState(false);
  // The last send got no answer: a newer version on the chart may be this very change, saved
  // before the answer was lost. Sending it again (same command id) tells which.
  const [unanswered, setUnanswered] = useState(false);
  const schema = useMemo(() => orderStatusFormFor(opened.kind), [opened.kind]);
  const { form, commandId, formError, setFormError, failFromServer } = useSchemaForm(schema, {
    newStatus: opened.nextStatuses.length === 1 ? opened.nextStatuses[0]! : "",
    reason: "",
    result: { rows: [emptyResultRow()], report: "" },
  });
  const { register, control } = form;
  const errors = form.formState.errors as Record<string, unknown>;
  const rows = useFieldArray({ control, name: "result.rows" });
  const newStatus = useWatch({ control, name: "newStatus" }) as OrderStatus | "";
  const flags = useWatch({ control, name: "result.rows" }).map((r) => r?.flag ?? "");
  useFocusFirstField(formRef);
  // Any change of what would be sent: the form's alert no longer applies.
  useEffect(() => form.subscribe({ formState: { values: true }, callback: () => setFormError(null) }), [form, setFormError]);

  const needsResult = newStatus === "completed" && resultingKinds.includes(opened.kind as OrderKind);
  const reasonRequired = newStatus === "cancelled";
  const resultError = errorOf(errors, "result");
  const reasonError = errorOf(errors, "reason");
  const statusError = errorOf(errors, "newStatus");

  const change = useMutation(
    trpc.order.changeStatus.mutationOptions({
      onSuccess: async (result, sent) => {
        commandId.reset();
        setUnanswered(false);
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
        setUnanswered(isUnanswered(e));
        // Refused because the order is not what this screen shows: fetch what it is now.
        if (isRefusal(e)) void refreshAll();
        if (isConflict(e)) {
          setRefused(true);
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

  // While its own change is on its way (and its success refetches the chart), a newer version is
  // this form's doing, not someone else's; after a send that got no answer, it may be too, and
  // "nothing was saved" would be false: the form asks for the same command again instead, which
  // the server answers with the stored result, or refuses as a conflict when it was someone else.
  const changed = !change.isPending && !change.isSuccess && (refused || (order.version !== opened.version && !unanswered));

  const onSubmit = form.handleSubmit((values) => {
    if (change.isPending || changed) return;
    setFormError(null);
    change.mutate(commandId.stamped({ orderId: opened.orderId, ...values, expectedVersion: opened.version }));
  });

  /** Carry on from the order as it is now, keeping what was typed; a status no longer offered is unchosen. */
  const continueOnLatest = () => {
    if (newStatus && !order.nextStatuses.includes(newStatus)) form.setValue("newStatus", "");
    setOpened(order);
    setRefused(false);
    commandId.reset();
  };
  return (
    <div className="stack">
      {changed ? (
        <ChangedSinceOpened
          title="This order changed since you opened it"
          patientId={order.patientId}
          streamId={`order-${order.orderId}`}
          sinceVersion={opened.version}
          actions={
            order.version === opened.version ? (
              <button type="button" onClick={() => void refreshAll()}>
                Reload the order
              </button>
            ) : order.nextStatuses.length > 0 ? (
              <button type="button" onClick={continueOnLatest}>
                Continue on the latest version
              </button>
            ) : null
          }
        >
          <p data-testid="order-changed-summary">
            You opened it when it was <strong>{label(opened.status)}</strong>
            {order.version === opened.version ? (
              <>; it has changed since. Nothing was saved. Loading the order as it is now…</>
            ) : (
              <>
                ; it is now <strong>{label(order.status)}</strong>
                {order.statusReason ? <> (reason: {order.statusReason})</> : null}. Nothing was saved, and what you typed is kept below.
              </>
            )}
          </p>
          {order.version !== opened.version && order.nextStatuses.length === 0 ? (
            <p className="strong">Its status can no longer change. Copy anything you typed that you still need, then close the form.</p>
          ) : order.version !== opened.version && newStatus && !order.nextStatuses.includes(newStatus) ? (
            <p className="strong">
              “{choiceLabels[newStatus] ?? label(newStatus)}” is no longer possible from {label(order.status)}: choose again after continuing.
            </p>
          ) : order.version !== opened.version ? (
            <p>Check your choice against the change, then continue on the latest version and save again.</p>
          ) : null}
        </ChangedSinceOpened>
      ) : null}
    <form ref={formRef} className="inline-form stack" onSubmit={onSubmit} noValidate aria-label={`Change status of ${order.description}`}>
      <FormError message={formAlert(formError, errors)} />
      <fieldset className="choices" aria-describedby={statusError ? id("newStatus-error") : undefined}>
        <legend>
          New status <span className="muted">(now <span className={statusBadgeClass(opened.status)}>{label(opened.status)}</span>)</span>
        </legend>
        <div className="choice-row">
          {opened.nextStatuses.map((s) => (
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
        disabled={changed}
        onClose={onClose}
      />
    </form>
    </div>
  );
}
