import type { Metadata } from "next";
import { PatientSearch } from "@/components/clinical/PatientSearch";

export const metadata: Metadata = { title: "Patients" };

export default function PatientsPage() {
  return (
    <main id="main" tabIndex={-1} className="page">
      <PatientSearch />
    </main>
  );
}
