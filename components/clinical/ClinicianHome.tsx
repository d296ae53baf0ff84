"use client";
// A clinician's start: find a patient, and their own open orders, most urgent first.
import { useQuery } from "@tanstack/react-query";
import Link from "next/link";
import { EmptyState, ErrorState, Loading } from "@/components/States";
import { useTRPC } from "@/components/trpc";
import { label, statusBadgeClass } from "@/components/format";
import { errorText } from "./errors";
import { priorityBadgeClass } from "./format";

export function ClinicianHome() {
  const trpc = useTRPC();
  const mine = useQuery(trpc.order.worklist.queryOptions({ provider: "me", limit: 10 }));
  return (
    <div className="home-grid">
      <section className="panel" aria-labelledby="home-patients">
        <h2 id="home-patients">Patients</h2>
        <p>Search by name or MRN, in any order, as you type.</p>
        <div className="actions">
          <Link className="button" href="/patients">
            Find a patient
          </Link>
          <Link className="button secondary" href="/patients/new">
            Register a patient
          </Link>
          <Link className="button secondary" href="/census">
            Census
          </Link>
        </div>
      </section>
      <section className="panel" aria-labelledby="home-orders" data-testid="my-orders">
        <div className="panel-head">
          <h2 id="home-orders">My open orders</h2>
          <Link href="/orders">Whole worklist</Link>
        </div>
        {mine.isPending ? (
          <Loading label="Loading your orders" lines={["70%", "60%", "65%"]} />
        ) : mine.isError ? (
          <ErrorState onRetry={() => void mine.refetch()}>Could not load your orders: {errorText(mine.error)}</ErrorState>
        ) : mine.data.items.length === 0 ? (
          <EmptyState>No open orders of yours.</EmptyState>
        ) : (
          <ul className="safety-list">
            {mine.data.items.map((o) => (
              <li key={o.orderId}>
                <span>
                  <span className={priorityBadgeClass(o.priority)}>{label(o.priority)}</span> {o.description}{" "}
                  <span className={statusBadgeClass(o.status)}>{label(o.status)}</span>
                </span>
                <Link href={`/patients/${o.patientId}`}>{o.patientName}</Link>
              </li>
            ))}
          </ul>
        )}
      </section>
    </div>
  );
}
