import type { Metadata } from "next";
import { AdminNav } from "@/components/admin/AdminNav";
import { ProjectionsPanel } from "@/components/admin/ProjectionsPanel";

export const metadata: Metadata = { title: "Projections" };

export default function ProjectionsPage() {
  return (
    <main id="main" tabIndex={-1} className="page">
      <AdminNav />
      <h1>Projections</h1>
      <p className="subtitle">The read models, how far each has read the log, and their rebuilds.</p>
      <ProjectionsPanel />
    </main>
  );
}
