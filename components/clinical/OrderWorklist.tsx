"use client";
// The order worklist: open orders across patients, most urgent first, with inline status changes.
import { keepPreviousData, useInfiniteQuery } from "@tanstack/react-query";
import Link from "next/link";
import { Fragment, useState } from "react";
import { LoadMore, TableHead } from "@/components/DataTable";
import { EmptyState, ErrorState, Flash, RefreshFailed, SkeletonTable } from "@/components/States";
import { useTRPC } from "@/components/trpc";
import { orderKinds, orderPriorities, orderStatuses, overdueAfterMinutes, overdueMinutes, type OrderKind, type OrderPriority, type OrderStatus } from "@/shared/clinical/orders";
import { ClinicalNav } from "./ClinicalNav";
import { errorText } from "./errors";
import { Field, Options } from "./form";
import { label, statusBadgeClass } from "@/components/format";
import { priorityBadgeClass } from "./format";
import { ChangeStatusCell, OrderTimeCells, StatusChangeRow } from "./OrderRows";
import { formatMinutes } from "./reportFormat";
import { useNow } from "./useNow";

const PAGE = 25;
const defaultStatuses: OrderStatus[] = ["placed", "on_hold", "in_progress"];

export function OrderWorklist() {
  const trpc = useTRPC();
  const [statuses, setStatuses] = useState<OrderStatus[]>(defaultStatuses);
  const [priority, setPriority] = useState<OrderPriority | "">("");
  const [kind, setKind] = useState<OrderKind | "">("");
  const [mine, setMine] = useState(false);
  const [open, setOpen] = useState<string | null>(null);
  const [flash, setFlash] = useState<string | null>(null);

  const orders = useInfiniteQuery({
    ...trpc.order.worklist.infiniteQueryOptions(
      {
        // In the state machine's order, so the query key does not depend on click order.
        statuses: orderStatuses.filter((s) => statuses.includes(s)),
        priority: priority || undefined,
        kind: kind || undefined,
        provider: mine ? "me" : undefined,
        limit: PAGE,
      },
      { getNextPageParam: (last) => last.nextCursor, placeholderData: keepPreviousData },
    ),
    enabled: statuses.length > 0,
  });
  const items = orders.data?.pages.flatMap((p) => p.items) ?? [];
  const filtered = priority !== "" || kind !== "" || mine || statuses.join() !== defaultStatuses.join();
  const refreshing = orders.isFetching && !orders.isFetchingNextPage && !orders.isPending;
  const now = useNow();

  const toggleStatus = (s: OrderStatus, on: boolean) => setStatuses((all) => (on ? [...all, s] : all.filter((x) => x !== s)));

  return (
    <>
      <ClinicalNav />
      <div className="page-head">
        <div>
          <h1>Order worklist</h1>
          <p className="subtitle">Orders across patients, STAT first, then urgent, then oldest.</p>
          <p className="small muted" data-testid="overdue-rule">
            <span className="badge bad">Overdue</span> marks an open order (placed, on hold or in progress) not done within{" "}
            {formatMinutes(overdueAfterMinutes.stat)} for STAT, {formatMinutes(overdueAfterMinutes.urgent)} for urgent or{" "}
            {formatMinutes(overdueAfterMinutes.routine)} for routine, counted from when it was placed (or from its scheduled time, when that is later).
          </p>
        </div>
      </div>

      <Flash message={flash} onDismiss={() => setFlash(null)} />
      {orders.isRefetchError && orders.data ? (
        <RefreshFailed
          what="the worklist"
          loadedAt={new Date(orders.dataUpdatedAt)}
          error={errorText(orders.error)}
          onRetry={() => void orders.refetch()}
          testId="worklist-refresh-failed"
        />
      ) : null}

      <section className="panel" aria-labelledby="worklist-title">
        <h2 id="worklist-title" className="sr-only">
          Orders
        </h2>
        <form className="filters" onSubmit={(e) => e.preventDefault()} aria-label="Filter orders">
          <fieldset className="choices" aria-describedby={statuses.length === 0 ? "status-filter-error" : undefined}>
            <legend>Status</legend>
            <div className="choice-row">
              {orderStatuses.map((s) => (
                <label key={s} className="choice">
                  <input type="checkbox" checked={statuses.includes(s)} onChange={(e) => toggleStatus(s, e.target.checked)} />
                  {label(s)}
                </label>
              ))}
            </div>
            {statuses.length === 0 ? (
              <span className="error" id="status-filter-error">
                Choose at least one status.
              </span>
            ) : null}
          </fieldset>
          <Field id="filter-priority" label="Priority">
            <select id="filter-priority" value={priority} onChange={(e) => setPriority(e.target.value as OrderPriority | "")}>
              <option value="">Any</option>
              <Options values={orderPriorities} />
            </select>
          </Field>
          <Field id="filter-kind" label="Kind">
            <select id="filter-kind" value={kind} onChange={(e) => setKind(e.target.value as OrderKind | "")}>
              <option value="">Any</option>
              <Options values={orderKinds} />
            </select>
          </Field>
          <label className="choice mine">
            <input type="checkbox" checked={mine} onChange={(e) => setMine(e.target.checked)} />
            Only my orders
          </label>
          {filtered ? (
            <button
              type="button"
              className="secondary small"
              onClick={() => {
                setStatuses(defaultStatuses);
                setPriority("");
                setKind("");
                setMine(false);
              }}
            >
              Reset filters
            </button>
          ) : null}
          <span className="muted small" aria-live="polite">
            {refreshing ? "Updating…" : ""}
          </span>
        </form>

        {statuses.length === 0 ? null : orders.isPending || (orders.isPlaceholderData && items.length === 0) ? (
          // (The placeholder is the previous filters' answer: its emptiness says nothing of these.)
          <SkeletonTable columns={6} rows={6} label="Loading orders" />
        ) : orders.isError && !orders.data ? (
          <ErrorState onRetry={() => void orders.refetch()}>Could not load the worklist: {errorText(orders.error)}</ErrorState>
        ) : items.length === 0 ? (
          <EmptyState testId="worklist-empty">
            {filtered ? "No orders match these filters." : "No open orders. Orders placed from a patient's chart appear here."}
          </EmptyState>
        ) : (
          <>
            <table className={`data orders card-rows${refreshing ? " stale" : ""}`} data-testid="worklist">
              <TableHead columns={["Priority", "Patient", "Order", "Status", "Ordered", "Scheduled"]} actions />
              <tbody>
                {items.map((o) => {
                  const expanded = open === o.orderId;
                  const overdue = now ? overdueMinutes(o, now) : null;
                  return (
                    <Fragment key={o.orderId}>
                      <tr data-order-id={o.orderId} data-overdue={overdue !== null} className={`prio-${o.priority}${expanded ? " expanded" : ""}${overdue !== null ? " overdue" : ""}`}>
                        <td className="priority">
                          <span className={priorityBadgeClass(o.priority)}>{label(o.priority)}</span>
                        </td>
                        <td className="wrap">
                          <Link href={`/patients/${o.patientId}`} className="strong">
                            {o.patientName}
                          </Link>
                          <div className="mono muted">{o.mrn}</div>
                        </td>
                        <td className="wrap">
                          <span className="kind">{label(o.kind)}</span> {o.description}
                        </td>
                        <td>
                          <span className={statusBadgeClass(o.status)}>{label(o.status)}</span>
                          {overdue !== null ? (
                            <div>
                              <span className="badge bad" data-testid="overdue" title="Past its priority's threshold (see above)">
                                Overdue {formatMinutes(overdue)}
                              </span>
                            </div>
                          ) : null}
                        </td>
                        <OrderTimeCells order={o} />
                        <ChangeStatusCell
                          show={o.nextStatuses.length > 0 && !expanded}
                          name={`Change status of ${o.description} for ${o.patientName}`}
                          onOpen={() => {
                            setFlash(null);
                            setOpen(o.orderId);
                          }}
                        />
                      </tr>
                      {expanded ? (
                        <StatusChangeRow
                          colSpan={7}
                          order={o}
                          onDone={(message) => {
                            setOpen(null);
                            setFlash(message);
                          }}
                          onClose={() => setOpen(null)}
                        />
                      ) : null}
                    </Fragment>
                  );
                })}
              </tbody>
            </table>
            <LoadMore
              hasMore={orders.hasNextPage}
              loading={orders.isFetchingNextPage}
              onMore={() => void orders.fetchNextPage()}
              error={orders.isFetchNextPageError ? errorText(orders.error) : null}
            />
          </>
        )}
      </section>
    </>
  );
}
