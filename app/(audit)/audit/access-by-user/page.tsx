import type { Metadata } from "next";
import { AuditShell } from "@/components/audit/AuditShell";
import { UserActivity } from "@/components/audit/UserActivity";

export const metadata: Metadata = { title: "Audit · charts opened per user" };

export default function AccessByUserPage() {
  return (
    <AuditShell>
      <h1>Charts opened per user</h1>
      <p className="subtitle">How many charts each member of staff opened, across patients: for spotting snooping.</p>
      <UserActivity />
    </AuditShell>
  );
}
