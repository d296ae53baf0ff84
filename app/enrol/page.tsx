import type { Metadata } from "next";
import { EnrolForm } from "@/components/EnrolForm";

export const metadata: Metadata = { title: "Set your password", referrer: "no-referrer" };

/** The enrolment link's page: outside the console, no session needed. The token is in the URL's fragment. */
export default function EnrolPage() {
  return (
    <main id="main" tabIndex={-1} className="page narrow">
      <section className="panel" aria-labelledby="enrol-title">
        <h1 id="enrol-title">Set your password</h1>
        <EnrolForm />
      </section>
    </main>
  );
}
