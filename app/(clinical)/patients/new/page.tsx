import type { Metadata } from "next";
import { RegisterPatient } from "@/components/clinical/RegisterPatient";

export const metadata: Metadata = { title: "Register patient" };

export default function RegisterPatientPage() {
  return (
    <main id="main" tabIndex={-1} className="page">
      <RegisterPatient />
    </main>
  );
}
