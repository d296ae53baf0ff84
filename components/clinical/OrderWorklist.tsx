"use client";
// The order worklist: open orders across patients, most urgent first, with inline status changes.
import { keepPreviousData, useInfiniteQuery } from "@tanstack/react-query";
import Link from "next/link";
import { Fragment, useState } from "react";
import { useTRPC } from "@/components/trpc";
import { orderKinds, orderPriorities, orderStatuses, type OrderKind, type OrderPriority, type OrderStatus } from "@/server/domain/order/events";
import { ClinicalNav } from "./ClinicalNav";
import { friendlyMessage, readError } from "./errors";
import { formatDateTime, label, priorityBadgeClass, statusBadgeClass } from "./format";
import { OrderStatusChange } from "./OrderStatusChange";
import { SkeletonTable } from "./PatientSearch";

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

  const toggleStatus = (s: OrderStatus, on: boolean) => setStatuses((all) => (on ? [...all, s] : all.filter((x) => x !== s)));

  return (
    <>
      <ClinicalNav />
      <div className="page-head">
        <div>
          <h1>Order worklist</h1>
          <p className="subtitle">Orders across patients, STAT first, then urgent, then oldest.</p>
        </div>
      </div>

      {flash ? (
        <div className="alert ok flash" role="status">
          <span>{flash}</span>
          <button type="button" className="link" onClick={() => setFlash(null)} aria-label="Dismiss message">
            ×
          </button>
        </div>
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
          <div className="field">
            <label htmlFor="filter-priority">Priority</label>
            <select id="filter-priority" value={priority} onChange={(e) => setPriority(e.target.value as OrderPriority | "")}>
              <option value="">Any</option>
              {orderPriorities.map((p) => (
                <option key={p} value={p}>
                  {label(p)}
                </option>
              ))}
            </select>
          </div>
          <div className="field">
            <label htmlFor="filter-kind">Kind</label>
            <select id="filter-kind" value={kind} onChange={(e) => setKind(e.target.value as OrderKind | "")}>
              <option value="">Any</option>
              {orderKinds.map((k) => (
                <option key={k} value={k}>
                  {label(k)}
                </option>
              ))}
            </select>
          </div>
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

        {statuses.length === 0 ? null : orders.isPending ? (
          <SkeletonTable columns={6} rows={6} label="Loading orders" />
        ) : orders.isError && !orders.data ? (
          <div className="state error" role="alert">
            <p>Could not load the worklist: {friendlyMessage(readError(orders.error))}</p>
            <button type="button" className="secondary" onClick={() => void orders.refetch()}>
              Try again
            </button>
          </div>
        ) : items.length === 0 ? (
          <div className="state" data-testid="worklist-empty">
            {filtered ? "No orders match these filters." : "No open orders. Orders placed from a patient's chart appear here."}
          </div>
        ) : (
          <>
            <table className={`data orders${refreshing ? " stale" : ""}`} data-testid="worklist">
              <thead>
                <tr>
                  <th scope="col">Priority</th>
                  <th scope="col">Patient</th>
                  <th scope="col">Order</th>
                  <th scope="col">Status</th>
                  <th scope="col">Ordered</th>
                  <th scope="col">Scheduled</th>
                  <th scope="col">
                    <span className="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {items.map((o) => {
                  const expanded = open === o.orderId;
                  return (
                    <Fragment key={o.orderId}>
                      <tr data-order-id={o.orderId} className={`prio-${o.priority}${expanded ? " expanded" : ""}`}>
                        <td>
                          <span className={priorityBadgeClass(o.priority)}>{label(o.priority)}</span>
                        </td>
                        <td>
                          <Link href={`/patients/${o.patientId}`} className="strong">
                            {o.patientName}
                          </Link>
                          <div className="mono muted">{o.mrn}</div>
                        </td>
                        <td>
                          <span className="kind">{label(o.kind)}</span> {o.description}
                        </td>
                        <td>
                          <span className={statusBadgeClass(o.status)}>{label(o.status)}</span>
                        </td>
                        <td className="nowrap small">
                          {formatDateTime(o.createdAt)}
                          {o.providerName ? <div className="muted">{o.providerName}</div> : null}
                        </td>
                        <td className="nowrap small">{o.scheduledFor ? formatDateTime(o.scheduledFor) : <span className="muted">—</span>}</td>
                        <td className="actions-cell">
                          {o.nextStatuses.length > 0 && !expanded ? (
                            <button
                              type="button"
                              className="secondary small"
                              onClick={() => {
                                setFlash(null);
                                setOpen(o.orderId);
                              }}
                              aria-label={`Change status of ${o.description} for ${o.patientName}`}
                            >
                              Change status
                            </button>
                          ) : null}
                        </td>
                      </tr>
                      {expanded ? (
                        <tr className="expand-row">
                          <td colSpan={7}>
                            <OrderStatusChange
                              order={o}
                              onDone={(message) => {
                                setOpen(null);
                                setFlash(message);
                              }}
                              onClose={() => setOpen(null)}
                            />
                          </td>
                        </tr>
                      ) : null}
                    </Fragment>
                  );
                })}
              </tbody>
            </table>
            {orders.hasNextPage ? (
              <div className="load-more">
                <button type="button" className="secondary" onClick={() => void orders.fetchNextPage()} disabled={orders.isFetchingNextPage}>
                  {orders.isFetchingNextPage ? "Loading…" : "Load more"}
                </button>
              </div>
            ) : null}
            {orders.error ? (
              <p className="error-text" role="alert">
                Could not load: {friendlyMessage(readError(orders.error))}
              </p>
            ) : null}
          </>
        )}
      </section>
    </>
  );
}
