import type { Metadata } from "next";
import { AuditShell } from "@/components/audit/AuditShell";
import { EventLog } from "@/components/audit/EventLog";

export const metadata: Metadata = { title: "Audit · event log" };

export default function EventLogPage() {
  return (
    <AuditShell>
      <h1>Event log</h1>
      <p className="subtitle">Every change is an immutable event: what, to which record, by whom, when, in which request, and what caused it.</p>
      <EventLog />
    </AuditShell>
  );
}
