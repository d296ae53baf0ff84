import type { Metadata } from "next";
import { AuditShell } from "@/components/audit/AuditShell";
import { EmergencyReview } from "@/components/audit/EmergencyReview";

export const metadata: Metadata = { title: "Audit · accesses needing review" };

export default function EmergencyPage() {
  return (
    <AuditShell>
      <h1>Accesses needing review</h1>
      <p className="subtitle">
        Charts opened by breaking the glass: a clinician opened a patient not in their care and gave a reason. Review each, with a note; reviews are final.
      </p>
      <EmergencyReview />
    </AuditShell>
  );
}
