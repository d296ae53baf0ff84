import type { Metadata } from "next";
import { AuditShell } from "@/components/audit/AuditShell";
import { ActivityByUser } from "@/components/audit/ActivityByUser";

export const metadata: Metadata = { title: "Audit · activity" };

export default function ActivityPage() {
  return (
    <AuditShell>
      <h1>Activity by user</h1>
      <p className="subtitle">Events per user and day, the patients they touched and the hours they worked, so unusual activity stands out.</p>
      <ActivityByUser />
    </AuditShell>
  );
}
