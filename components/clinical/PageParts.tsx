// Pieces of the clinical pages around a patient: the breadcrumb, and what shows when the patient
// could not be loaded.
import Link from "next/link";
import { ErrorState } from "@/components/States";
import { errorText, readError } from "./errors";

/** Patients › [via ›] current. */
export function Crumbs({ via, current }: { via?: { href: string; label: string }; current: string }) {
  return (
    <nav className="crumbs" aria-label="Breadcrumb">
      <Link href="/patients">Patients</Link> <span aria-hidden="true">›</span>{" "}
      {via ? (
        <>
          <Link href={via.href}>{via.label}</Link> <span aria-hidden="true">›</span>{" "}
        </>
      ) : null}
      <span aria-current="page">{current}</span>
    </nav>
  );
}

/** A malformed id is as much "not found" as an unknown one. */
export function isPatientNotFound(error: unknown): boolean {
  const code = readError(error).code;
  return code === "NOT_FOUND" || code === "BAD_REQUEST";
}

/** The patient could not be loaded: "Patient not found" for a wrong id, else why, with a retry. */
export function PatientLoadError({ error, what, onRetry }: { error: unknown; what: string; onRetry: () => void }) {
  if (isPatientNotFound(error)) {
    return (
      <div className="panel state" data-testid="chart-not-found">
        <h1>Patient not found</h1>
        <p>There is no patient with this id. The link may be wrong or incomplete.</p>
        <Link className="button" href="/patients">
          Find a patient
        </Link>
      </div>
    );
  }
  return (
    <ErrorState onRetry={onRetry}>
      Could not load {what}: {errorText(error)}
    </ErrorState>
  );
}
