import type { Metadata } from "next";
import { AccessLogBrowser } from "@/components/audit/AccessLogBrowser";

export const metadata: Metadata = { title: "Audit" };

export default function AuditPage() {
  return (
    <main className="page">
      <h1>Audit</h1>
      <p className="subtitle">Who read which patient&apos;s data, through which screen, and when. The log is append-only.</p>
      <AccessLogBrowser />
    </main>
  );
}
