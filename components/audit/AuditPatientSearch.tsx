"use client";
// Patient search for compliance. It searches on submit, not on every keystroke, and lists nobody
// until asked: each result page is a logged read of those patients, so the log should show
// searches the officer meant to make.
import { DateTime } from "../DateTime";
import { keepPreviousData, useInfiniteQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useRouter, useSearchParams } from "next/navigation";
import type { FormEvent } from "react";
import { LoadMore } from "../DataTable";
import { label } from "../format";
import { EmptyState, ErrorState, Loading } from "../States";
import { useTRPC } from "../trpc";
import { errorText } from "./format";

const PAGE = 25;

export function AuditPatientSearch() {
  const params = useSearchParams();
  const router = useRouter();
  const term = params.get("q")?.trim() ?? "";

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const q = String(new FormData(event.currentTarget).get("q") ?? "").trim();
    router.push(q ? `/audit/patients?q=${encodeURIComponent(q)}` : "/audit/patients", { scroll: false });
  }

  return (
    <section className="panel" aria-labelledby="patients-title">
      <h2 id="patients-title">Find a patient</h2>
      <form className="search" role="search" aria-label="Patients" onSubmit={submit}>
        <label htmlFor="audit-patient-search">Name or MRN</label>
        <input
          key={term}
          id="audit-patient-search"
          name="q"
          type="search"
          defaultValue={term}
          maxLength={100}
          autoComplete="off"
          placeholder="e.g. “delgado rosa”, “delg ros” or “MRN0012”"
          aria-describedby="audit-patient-search-hint"
        />
        <button type="submit">Search</button>
      </form>
      <p id="audit-patient-search-hint" className="muted small">
        Every patient listed here is recorded in the access log as read by you.
      </p>
      {term ? <Results key={term} term={term} /> : null}
    </section>
  );
}

function Results({ term }: { term: string }) {
  const trpc = useTRPC();
  const patients = useInfiniteQuery(
    trpc.audit.patients.infiniteQueryOptions(
      { search: term, limit: PAGE },
      { getNextPageParam: (last) => last.nextCursor, placeholderData: keepPreviousData },
    ),
  );
  const items = patients.data?.pages.flatMap((p) => p.items) ?? [];

  if (patients.isPending) return <Loading label="Searching" lines={["80%", "65%", "72%"]} />;
  if (patients.isError && !patients.data) {
    return <ErrorState onRetry={() => void patients.refetch()}>The search failed: {errorText(patients.error)}</ErrorState>;
  }
  if (items.length === 0) {
    return (
      <EmptyState role="status" testId="patients-empty">
        No patient matches “{term}”. Any part of the name in any order, or the MRN, finds a patient.
      </EmptyState>
    );
  }
  return (
    <>
      <p className="muted small" role="status">
        {items.length}
        {patients.hasNextPage ? "+" : ""} patient{items.length === 1 && !patients.hasNextPage ? "" : "s"} matching “{term}”
      </p>
      <table className="data dense">
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">MRN</th>
            <th scope="col">Date of birth</th>
            <th scope="col">Sex</th>
            <th scope="col" className="num">
              Version
            </th>
            <th scope="col">Last change</th>
          </tr>
        </thead>
        <tbody>
          {items.map((p) => (
            <tr key={p.patientId}>
              <td className="wrap">
                <Link href={`/audit/patients/${p.patientId}`} className="strong">
                  {p.givenName ? `${p.familyName}, ${p.givenName}` : p.familyName}
                </Link>
                {!p.active ? <span className="badge muted">Inactive</span> : null}
              </td>
              <td className="mono">{p.mrn}</td>
              <td className="nowrap">{p.dateOfBirth}</td>
              <td>{label(p.sex)}</td>
              <td className="num">{p.version}</td>
              <td className="nowrap muted">
                <DateTime value={p.updatedAt} precision="minute" />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <LoadMore hasMore={patients.hasNextPage} loading={patients.isFetchingNextPage} onMore={() => void patients.fetchNextPage()} />
    </>
  );
}
