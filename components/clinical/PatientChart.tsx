"use client";
// The chart: who the patient is, what is open now (encounters, orders), and what happened.
import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useSearchParams } from "next/navigation";
import { Fragment, useEffect, useMemo, useState } from "react";
import { TableHead } from "@/components/DataTable";
import { Flash, RefreshFailed, SkeletonLines } from "@/components/States";
import { useTRPC } from "@/components/trpc";
import type { OrderDetails } from "@/server/domain/order/events";
import { resultSeverity } from "@/shared/clinical/results";
import { ClinicalNav } from "./ClinicalNav";
import { CompleteEncounterForm, StartEncounterForm } from "./EncounterForms";
import { DateTime } from "@/components/DateTime";
import { formatAddress, label, resultSummary, statusBadgeClass } from "@/components/format";
import { errorText } from "./errors";
import { fullName, priorityBadgeClass } from "./format";
import { ChangeStatusCell, OrderTimeCells, StatusChangeRow } from "./OrderRows";
import { Crumbs, isPatientNotFound, PatientLoadError } from "./PageParts";
import { BreakGlassDialog, needsBreakGlass } from "./BreakGlass";
import { PatientHistory } from "./PatientHistory";
import { PlaceOrderForm } from "./PlaceOrderForm";
import { SafetyBanner } from "./SafetyBanner";
import { SafetyPanel } from "./SafetyPanel";
import type { Chart, ChartOrder } from "./types";
import { useNow } from "./useNow";

/** How often an open chart is re-read while visible. */
const CHART_POLL_MS = 20_000;

const savedMessages: Record<string, string> = {
  registered: "Patient registered.",
  updated: "Demographics updated.",
};

export function PatientChart({ patientId }: { patientId: string }) {
  const trpc = useTRPC();
  // One id for this screen view: the chart, its history and refetches are one access-log row.
  const [viewId] = useState(() => crypto.randomUUID());
  const chart = useQuery({
    ...trpc.patient.byId.queryOptions({ patientId, viewId }),
    // Others record allergies, cancel orders and complete encounters at other workstations: the
    // chart is re-read while it is on screen (not in a background tab), and on focus as always.
    // Its refetches share the view id, so they stay one row of the access log.
    refetchInterval: CHART_POLL_MS,
  });
  const saved = useSearchParams().get("saved");
  const [flash, setFlash] = useState<string | null>(saved ? (savedMessages[saved] ?? null) : null);
  useEffect(() => {
    // The message is shown once: a reload or a shared link must not repeat it.
    if (saved) window.history.replaceState(null, "", window.location.pathname);
  }, [saved]);

  // A failed background refetch keeps showing the chart it has, under a warning that it may be out
  // of date: a save that went through must not look as if the chart showed its result.
  if (chart.data) {
    return (
      <ChartView
        chart={chart.data}
        viewId={viewId}
        flash={flash}
        setFlash={setFlash}
        refreshing={chart.isFetching}
        loadedAt={new Date(chart.dataUpdatedAt)}
        refreshError={chart.isRefetchError ? chart.error : null}
        onRetry={() => void chart.refetch()}
      />
    );
  }
  if (chart.isError && needsBreakGlass(chart.error)) {
    return (
      <>
        <ClinicalNav />
        <Crumbs current="Chart" />
        <div className="panel state" data-testid="not-in-care">
          <p>This patient is not in your care. The chart opens once you record why you need it.</p>
        </div>
        <BreakGlassDialog patientId={patientId} onGranted={() => void chart.refetch()} />
      </>
    );
  }
  if (chart.isError) {
    return (
      <>
        <ClinicalNav />
        <Crumbs current={isPatientNotFound(chart.error) ? "Not found" : "Chart"} />
        <PatientLoadError error={chart.error} what="the chart" onRetry={() => void chart.refetch()} />
      </>
    );
  }
  return <ChartSkeleton />;
}

const priorityRank = (p: string) => ({ stat: 0, urgent: 1 })[p] ?? 2;

function ChartSkeleton() {
  return (
    <div aria-busy="true" aria-label="Loading the chart" role="status">
      <ClinicalNav />
      <SkeletonLines lines={[{ width: 120, height: 12 }, { width: 280, height: 26, marginTop: 12 }, 360]} />
      <div className="chart-grid">
        <div className="panel">
          <SkeletonLines lines={["40%", "70%", "55%"]} />
        </div>
        <div className="panel">
          <SkeletonLines lines={["30%", "65%"]} />
        </div>
      </div>
    </div>
  );
}

type Open = { kind: "start-encounter" } | { kind: "complete"; id: string } | { kind: "place-order" } | { kind: "status"; id: string } | null;

function ChartView({
  chart,
  viewId,
  flash,
  setFlash,
  refreshing,
  loadedAt,
  refreshError,
  onRetry,
}: {
  chart: Chart;
  viewId: string;
  flash: string | null;
  setFlash: (message: string | null) => void;
  refreshing: boolean;
  loadedAt: Date;
  refreshError: unknown;
  onRetry: () => void;
}) {
  const now = useNow();
  const { patient } = chart;
  const [open, setOpen] = useState<Open>(null);
  const done = (message: string) => {
    setOpen(null);
    setFlash(message);
  };
  const toggle = (next: Open) => {
    setFlash(null);
    setOpen(next);
  };

  // Status changes name their order; the events themselves carry only its id.
  const orderNames = useMemo(() => {
    const orders: Record<string, string> = {};
    for (const o of chart.orders) orders[o.orderId] = (o.details as OrderDetails | null)?.description ?? o.description;
    for (const a of chart.patient.safety.allergies) orders[a.allergyId] = `Allergy: ${a.substance.text}`;
    for (const a of chart.patient.safety.alerts) orders[a.alertId] = `Alert: ${label(a.kind)}`;
    return orders;
  }, [chart]);

  // An encounter or order whose form is open stays where the form is, even once a refetch shows
  // it completed or cancelled elsewhere: moving it would unmount the form and lose what was typed,
  // where the form should say what changed.
  const completing = open?.kind === "complete" ? open.id : null;
  const openEncounters = [
    ...chart.openEncounters,
    ...chart.recentEncounters.filter((e) => e.encounterId === completing && !chart.openEncounters.some((o) => o.encounterId === completing)),
  ];
  const pastEncounters = chart.recentEncounters.filter((e) => e.status !== "in_progress" && e.encounterId !== completing);
  const changing = open?.kind === "status" ? open.id : null;
  const isActive = (o: ChartOrder) => o.orderId === changing || chart.activeOrders.some((a) => a.orderId === o.orderId);
  const keptOpen = chart.orders.filter((o) => o.orderId === changing && !chart.activeOrders.some((a) => a.orderId === changing));
  // Most urgent first, then newest (the server sends newest first).
  const activeOrders = [...chart.activeOrders, ...keptOpen].sort((a, b) => priorityRank(a.priority) - priorityRank(b.priority));
  const closedOrders = chart.orders.filter((o) => !isActive(o));

  return (
    <>
      <ClinicalNav />
      <Crumbs current={fullName(patient)} />
      <header className="chart-head" data-version={patient.version}>
        <div>
          <h1>
            {fullName(patient)}{" "}
            {patient.erasedAt ? <span className="badge bad">Erased</span> : null}
          </h1>
          {patient.erasedAt ? (
            <div className="alert warn" role="status" data-testid="patient-erased">
              This patient was erased on <DateTime value={patient.erasedAt} precision="minute" />: their health information can no longer be read, and nothing
              more can be recorded about them.
            </div>
          ) : null}
        </div>
        {/* Not a live region: the poll would announce it every few seconds. */}
        <span className="muted small" data-testid="chart-as-of">
          {refreshing ? "Updating…" : <>As of <DateTime value={loadedAt} /></>}
        </span>
      </header>
      {refreshError ? (
        <RefreshFailed what="the chart" loadedAt={loadedAt} error={errorText(refreshError)} onRetry={onRetry} testId="chart-refresh-failed" />
      ) : null}
      <SafetyBanner patient={patient} openEncounters={chart.openEncounters} now={now} />

      <Flash message={flash} onDismiss={() => setFlash(null)} />

      <div className="chart-grid">
        <section className="panel" aria-labelledby="demographics-title">
          <div className="panel-head">
            <h2 id="demographics-title">Demographics</h2>
            {patient.erasedAt ? null : (
              <Link className="button secondary small" href={`/patients/${patient.patientId}/edit`}>
                Edit demographics
              </Link>
            )}
          </div>
          <dl className="facts">
            <dt>Given name</dt>
            <dd>{patient.givenName || <span className="muted">—</span>}</dd>
            <dt>Family name</dt>
            <dd>{patient.familyName}</dd>
            <dt>Date of birth</dt>
            <dd>{patient.dateOfBirth}</dd>
            <dt>Sex</dt>
            <dd>{label(patient.sex)}</dd>
            <dt>Email</dt>
            <dd>{patient.email ?? <span className="muted">—</span>}</dd>
            <dt>Phone</dt>
            <dd>{patient.phone ?? <span className="muted">—</span>}</dd>
            <dt>Address</dt>
            <dd>{patient.address ? formatAddress(patient.address as never) : <span className="muted">—</span>}</dd>
            <dt>Registered</dt>
            <dd>
              <DateTime value={patient.registeredAt} precision="minute" />
            </dd>
            <dt>Last changed</dt>
            <dd>
              <DateTime value={patient.updatedAt} precision="minute" />
            </dd>
          </dl>
        </section>

        <section className="panel" aria-labelledby="encounters-title">
          <div className="panel-head">
            <h2 id="encounters-title">Encounters</h2>
            {open?.kind !== "start-encounter" ? (
              <button type="button" className="secondary small" onClick={() => toggle({ kind: "start-encounter" })} disabled={!patient.active}>
                Start encounter
              </button>
            ) : null}
          </div>
          {open?.kind === "start-encounter" ? (
            <StartEncounterForm patientId={patient.patientId} onDone={done} onClose={() => setOpen(null)} />
          ) : null}
          <h3 className="subhead">Open</h3>
          {openEncounters.length === 0 ? (
            <p className="muted small">No open encounters.</p>
          ) : (
            <ul className="encounters">
              {openEncounters.map((e) => (
                <li key={e.encounterId} className="encounter" data-testid="open-encounter">
                  <div className="encounter-line">
                    <div>
                      <strong>{label(e.encounterType)}</strong>{" "}
                      <span className={e.status === "in_progress" ? "badge info" : "badge"}>{label(e.status)}</span>
                      {e.location ? <div className="small">{e.location}</div> : null}
                      <div className="muted small">
                        Started <DateTime value={e.startedAt} precision="minute" />
                        {e.providerName ? ` by ${e.providerName}` : ""}
                      </div>
                      {e.reason ? <div className="small">{e.reason}</div> : null}
                    </div>
                    {!(open?.kind === "complete" && open.id === e.encounterId) ? (
                      <button type="button" className="secondary small" onClick={() => toggle({ kind: "complete", id: e.encounterId })}>
                        Complete
                      </button>
                    ) : null}
                  </div>
                  {open?.kind === "complete" && open.id === e.encounterId ? (
                    <CompleteEncounterForm encounter={e} onDone={done} onClose={() => setOpen(null)} />
                  ) : null}
                </li>
              ))}
            </ul>
          )}
          {pastEncounters.length > 0 ? (
            <>
              <h3 className="subhead">
                Past <span className="muted">({chart.encounterCount - openEncounters.length})</span>
              </h3>
              <ul className="encounters past">
                {pastEncounters.slice(0, 5).map((e) => (
                  <li key={e.encounterId} className="small">
                    <strong>{label(e.encounterType)}</strong> · <DateTime value={e.startedAt} precision="minute" />
                    {e.endedAt ? (
                      <>
                        {" "}
                        to <DateTime value={e.endedAt} precision="minute" />
                      </>
                    ) : null}
                    {e.dischargeDisposition ? <> · {label(e.dischargeDisposition)}</> : null}
                    {e.durationMinutes !== null ? <span className="muted"> · {e.durationMinutes} min</span> : null}
                    {e.outcome ? <div className="muted clamp">{e.outcome}</div> : null}
                  </li>
                ))}
              </ul>
            </>
          ) : null}
        </section>
      </div>

      {/* Its own forms close themselves: an allergy saved must not close an order form open beside it. */}
      <SafetyPanel patientId={patient.patientId} safety={patient.safety} erased={patient.erasedAt !== null} onDone={setFlash} />

      <section className="panel" aria-labelledby="orders-title">
        <div className="panel-head">
          <h2 id="orders-title">Orders</h2>
          {open?.kind !== "place-order" ? (
            <button type="button" className="secondary small" onClick={() => toggle({ kind: "place-order" })} disabled={!patient.active}>
              Place order
            </button>
          ) : null}
        </div>
        {open?.kind === "place-order" ? (
          <PlaceOrderForm
            patientId={patient.patientId}
            openEncounters={chart.openEncounters}
            allergies={patient.safety.allergies}
            onDone={done}
            onClose={() => setOpen(null)}
          />
        ) : null}
        <h3 className="subhead">Active</h3>
        {activeOrders.length === 0 ? (
          <p className="muted small">No active orders.</p>
        ) : (
          <OrderTable
            orders={activeOrders}
            open={open?.kind === "status" ? open.id : null}
            onOpen={(id) => toggle(id ? { kind: "status", id } : null)}
            onDone={done}
            testId="active-orders"
          />
        )}
        {closedOrders.length > 0 ? (
          <details className="closed-orders">
            <summary>
              <h3 className="subhead inline">Completed and cancelled ({closedOrders.length})</h3>
            </summary>
            <OrderTable orders={closedOrders} open={null} onOpen={() => {}} onDone={done} testId="closed-orders" />
          </details>
        ) : null}
      </section>

      <PatientHistory patientId={patient.patientId} viewId={viewId} orderNames={orderNames} />
    </>
  );
}

/**
 * A completed order's result, styled by its worst flag: critical in red behind a "Critical" badge
 * (words, not colour alone), abnormal in amber, normal in the text's own colour. It was all green,
 * so a critical potassium read as good news.
 */
function ResultLine({ result }: { result: unknown }) {
  const severity = resultSeverity(result);
  return (
    <div className={`small result ${severity}`} data-testid="order-result" data-severity={severity}>
      {severity === "critical" ? <span className="badge bad">Critical</span> : null}
      {severity === "abnormal" ? <span className="badge warn">Abnormal</span> : null} Result: {resultSummary(result)}
    </div>
  );
}

function OrderTable({
  orders,
  open,
  onOpen,
  onDone,
  testId,
}: {
  orders: ChartOrder[];
  open: string | null;
  onOpen: (orderId: string | null) => void;
  onDone: (message: string) => void;
  testId: string;
}) {
  return (
    <table className="data orders card-rows" data-testid={testId}>
      <TableHead columns={["Order", "Priority", "Status", "Ordered", "Scheduled"]} actions />
      <tbody>
        {orders.map((o) => {
          const details = (o.details ?? {}) as Partial<OrderDetails>;
          const med = [details.dose, details.route, details.frequency].filter(Boolean).join(" · ");
          const expanded = open === o.orderId;
          const description = details.description ?? o.description;
          return (
            <Fragment key={o.orderId}>
              <tr data-order-id={o.orderId} className={expanded ? "expanded" : undefined}>
                <td className="wrap">
                  <span className="kind">{label(o.kind)}</span> <span className="strong">{description}</span>
                  {details.code ? <span className="mono muted"> {details.code}</span> : null}
                  {med ? <div className="small">{med}</div> : null}
                  {o.resultData ? <ResultLine result={o.resultData} /> : null}
                </td>
                <td className="priority">
                  <span className={priorityBadgeClass(o.priority)}>{label(o.priority)}</span>
                </td>
                <td>
                  <span className={statusBadgeClass(o.status)} data-testid="order-status">
                    {label(o.status)}
                  </span>
                  {o.statusReason ? <div className="small muted">{o.statusReason}</div> : null}
                </td>
                <OrderTimeCells order={o} />
                <ChangeStatusCell show={o.nextStatuses.length > 0 && !expanded} name={`Change status of ${description}`} onOpen={() => onOpen(o.orderId)} />
              </tr>
              {expanded ? <StatusChangeRow colSpan={6} order={{ ...o, description }} onDone={onDone} onClose={() => onOpen(null)} /> : null}
            </Fragment>
          );
        })}
      </tbody>
    </table>
  );
}
