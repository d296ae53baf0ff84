import type { Metadata } from "next";
import { AuditShell } from "@/components/audit/AuditShell";
import { AuditPatientSearch } from "@/components/audit/AuditPatientSearch";

export const metadata: Metadata = { title: "Audit · patients" };

export default function AuditPatientsPage() {
  return (
    <AuditShell>
      <h1>Patients</h1>
      <p className="subtitle">Find a record to follow its timeline, see it as it was at any moment, and see who viewed it.</p>
      <AuditPatientSearch />
    </AuditShell>
  );
}
