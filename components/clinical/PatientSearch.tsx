"use client";
import { keepPreviousData, useInfiniteQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useState } from "react";
import { LoadMore, TableHead } from "@/components/DataTable";
import { EmptyState, ErrorState, SkeletonTable } from "@/components/States";
import { useTRPC } from "@/components/trpc";
import { ClinicalNav } from "./ClinicalNav";
import { errorText } from "./errors";
import { useDebounced } from "./form";
import { label } from "@/components/format";
import { ageFrom, listName } from "./format";
import { useNow } from "./useNow";

const PAGE = 25;

export function PatientSearch() {
  const trpc = useTRPC();
  const now = useNow();
  const [search, setSearch] = useState("");
  const term = useDebounced(search.trim(), 250);
  const patients = useInfiniteQuery(
    trpc.patient.list.infiniteQueryOptions(
      { search: term || undefined, limit: PAGE },
      { getNextPageParam: (last) => last.nextCursor, placeholderData: keepPreviousData },
    ),
  );
  const items = patients.data?.pages.flatMap((p) => p.items) ?? [];
  const searching = patients.isFetching && !patients.isFetchingNextPage;
  // The rows shown are still the previous term's (kept while this one loads): they answer nothing
  // about this term, least of all "no patient matches it", a false negative that leads to a
  // second chart for a patient who has one.
  const previousTerm = patients.isPlaceholderData;

  return (
    <>
      <ClinicalNav />
      <div className="page-head">
        <div>
          <h1>Patients</h1>
          <p className="subtitle">Find a patient by name or medical record number.</p>
        </div>
        <Link className="button" href="/patients/new">
          Register patient
        </Link>
      </div>

      <section className="panel" aria-labelledby="patients-title">
        <h2 id="patients-title" className="sr-only">
          Patient list
        </h2>
        <div className="search">
          <label htmlFor="patient-search">Search</label>
          <input
            id="patient-search"
            type="search"
            placeholder="Name or MRN, e.g. “delgado rosa”, “delg ros” or “MRN0012”"
            value={search}
            onChange={(e) => setSearch(e.target.value)}
            maxLength={100}
            autoComplete="off"
            aria-describedby="patient-search-status"
          />
          <span id="patient-search-status" className="muted small" aria-live="polite">
            {searching || previousTerm ? "Searching…" : patients.isSuccess ? resultLabel(items.length, Boolean(patients.hasNextPage), term) : ""}
          </span>
        </div>

        {patients.isPending || (previousTerm && items.length === 0) ? (
          <SkeletonTable columns={4} rows={6} label="Loading patients" />
        ) : patients.isError && !patients.data ? (
          <ErrorState onRetry={() => void patients.refetch()}>Could not load patients: {errorText(patients.error)}</ErrorState>
        ) : items.length === 0 ? (
          <EmptyState testId="patients-empty">
            {term ? (
              <>
                <p>No patients match “{term}”.</p>
                <p className="small">Check the spelling, search by MRN, or register the patient.</p>
              </>
            ) : (
              <>
                <p>No patients yet.</p>
                <Link className="button" href="/patients/new">
                  Register the first patient
                </Link>
              </>
            )}
          </EmptyState>
        ) : (
          <>
            <table className={`data card-rows${searching || previousTerm ? " stale" : ""}`} aria-busy={searching || previousTerm}>
              <TableHead columns={["Name", "MRN", "Date of birth", "Sex"]} />
              <tbody>
                {items.map((p) => (
                  <tr key={p.patientId}>
                    <td className="wrap">
                      <Link href={`/patients/${p.patientId}`} className="strong">
                        {listName(p)}
                      </Link>
                      {!p.active ? <span className="badge muted">Inactive</span> : null}
                    </td>
                    <td className="mono" data-label="MRN">{p.mrn}</td>
                    <td className="nowrap" data-label="Date of birth">
                      {p.dateOfBirth} {now ? <span className="muted">({ageFrom(p.dateOfBirth, now)})</span> : null}
                    </td>
                    <td data-label="Sex">{label(p.sex)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            <LoadMore
              hasMore={patients.hasNextPage}
              loading={patients.isFetchingNextPage}
              onMore={() => void patients.fetchNextPage()}
              error={patients.error ? errorText(patients.error) : null}
            />
          </>
        )}
      </section>
    </>
  );
}

function resultLabel(count: number, more: boolean, term: string): string {
  const n = `${count}${more ? "+" : ""} patient${count === 1 && !more ? "" : "s"}`;
  return term ? `${n} matching “${term}”` : n;
}
