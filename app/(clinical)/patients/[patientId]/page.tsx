import type { Metadata } from "next";
import { PatientChart } from "@/components/clinical/PatientChart";

export const metadata: Metadata = { title: "Patient chart" };

export default async function PatientChartPage({ params }: { params: Promise<{ patientId: string }> }) {
  const { patientId } = await params;
  return (
    <main id="main" tabIndex={-1} className="page">
      <PatientChart key={patientId} patientId={patientId} />
    </main>
  );
}
