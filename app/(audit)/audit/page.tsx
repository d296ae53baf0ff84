import type { Metadata } from "next";
import { AuditShell } from "@/components/audit/AuditShell";
import { AccessLogBrowser } from "@/components/audit/AccessLogBrowser";

export const metadata: Metadata = { title: "Audit · access log" };

export default function AuditPage() {
  return (
    <AuditShell>
      <h1>Access log</h1>
      <p className="subtitle">Who read which patient&apos;s data, through which screen, and when. The log is append-only.</p>
      <AccessLogBrowser />
    </AuditShell>
  );
}
