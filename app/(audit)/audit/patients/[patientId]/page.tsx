import type { Metadata } from "next";
import { notFound } from "next/navigation";
import { isUuid } from "@/shared/ids";
import { AuditShell } from "@/components/audit/AuditShell";
import { PatientAudit } from "@/components/audit/PatientAudit";

export const metadata: Metadata = { title: "Audit · patient record" };

export default async function AuditPatientPage({ params }: { params: Promise<{ patientId: string }> }) {
  const { patientId } = await params;
  // A mistyped address is a page that does not exist, not a validation message.
  if (!isUuid(patientId)) notFound();
  return (
    <AuditShell>
      <PatientAudit key={patientId} patientId={patientId} />
    </AuditShell>
  );
}
