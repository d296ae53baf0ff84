import type { Metadata } from "next";
import { AuditShell } from "@/components/audit/AuditShell";
import { PatientAudit } from "@/components/audit/PatientAudit";

export const metadata: Metadata = { title: "Audit · patient record" };

export default async function AuditPatientPage({ params }: { params: Promise<{ patientId: string }> }) {
  const { patientId } = await params;
  return (
    <AuditShell>
      <PatientAudit key={patientId} patientId={patientId} />
    </AuditShell>
  );
}
