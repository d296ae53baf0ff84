import type { Metadata } from "next";
import { AdminNav } from "@/components/admin/AdminNav";
import { ErasurePanel } from "@/components/admin/ErasurePanel";

export const metadata: Metadata = { title: "Patient erasure" };

export default function ErasurePage() {
  return (
    <main id="main" tabIndex={-1} className="page">
      <AdminNav />
      <h1>Patient erasure</h1>
      <p className="subtitle">Forget a patient for good: their health information is encrypted under a key of their own, and erasing destroys it.</p>
      <ErasurePanel />
    </main>
  );
}
