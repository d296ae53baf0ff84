import type { Metadata } from "next";
import { PatientReport } from "@/components/audit/PatientReport";

export const metadata: Metadata = { title: "Audit report" };

/** A patient's audit report laid out for printing (or saving as PDF from the print dialog). */
export default async function PatientReportPage({ params }: { params: Promise<{ patientId: string }> }) {
  const { patientId } = await params;
  return (
    <main id="main" tabIndex={-1} className="page report-page">
      <PatientReport key={patientId} patientId={patientId} />
    </main>
  );
}
