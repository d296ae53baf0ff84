import type { Metadata } from "next";
import { EditDemographics } from "@/components/clinical/EditDemographics";

export const metadata: Metadata = { title: "Edit demographics" };

export default async function EditDemographicsPage({ params }: { params: Promise<{ patientId: string }> }) {
  const { patientId } = await params;
  return (
    <main id="main" tabIndex={-1} className="page">
      <EditDemographics key={patientId} patientId={patientId} />
    </main>
  );
}
