import type { Metadata } from "next";
import { AdminNav } from "@/components/admin/AdminNav";
import { MetricsCharts } from "@/components/admin/MetricsCharts";

export const metadata: Metadata = { title: "Metrics · Admin" };

export default function MetricsPage() {
  return (
    <main id="main" tabIndex={-1} className="page">
      <AdminNav />
      <h1>Metrics</h1>
      <p className="subtitle">
        The event store across every process of the cluster, per minute: what is appended, how big the store is, how far the outbox is
        behind, and what goes wrong. The same figures are served to Prometheus at <code>/api/metrics</code>.
      </p>
      <MetricsCharts />
    </main>
  );
}
