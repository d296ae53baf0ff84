"use client";
import { keepPreviousData, useInfiniteQuery } from "@tanstack/react-query";
import Link from "next/link";
import { useState } from "react";
import { useTRPC } from "@/components/trpc";
import { ClinicalNav } from "./ClinicalNav";
import { friendlyMessage, readError } from "./errors";
import { useDebounced } from "./form";
import { ageFrom, label, listName } from "./format";
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
            placeholder="Name or MRN, e.g. “ann smi” or “MRN0012”"
            value={search}
            onChange={(e) => setSearch(e.target.value)}
            maxLength={100}
            autoComplete="off"
            aria-describedby="patient-search-status"
          />
          <span id="patient-search-status" className="muted small" aria-live="polite">
            {searching ? "Searching…" : patients.isSuccess ? resultLabel(items.length, Boolean(patients.hasNextPage), term) : ""}
          </span>
        </div>

        {patients.isPending ? (
          <SkeletonTable columns={4} rows={6} label="Loading patients" />
        ) : patients.isError && !patients.data ? (
          <div className="state error" role="alert">
            <p>Could not load patients: {friendlyMessage(readError(patients.error))}</p>
            <button type="button" className="secondary" onClick={() => void patients.refetch()}>
              Try again
            </button>
          </div>
        ) : items.length === 0 ? (
          <div className="state" data-testid="patients-empty">
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
          </div>
        ) : (
          <>
            <table className={`data${searching ? " stale" : ""}`} aria-busy={searching}>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">MRN</th>
                  <th scope="col">Date of birth</th>
                  <th scope="col">Sex</th>
                </tr>
              </thead>
              <tbody>
                {items.map((p) => (
                  <tr key={p.patientId}>
                    <td>
                      <Link href={`/patients/${p.patientId}`} className="strong">
                        {listName(p)}
                      </Link>
                      {!p.active ? <span className="badge muted">Inactive</span> : null}
                    </td>
                    <td className="mono">{p.mrn}</td>
                    <td className="nowrap">
                      {p.dateOfBirth} {now ? <span className="muted">({ageFrom(p.dateOfBirth, now)})</span> : null}
                    </td>
                    <td>{label(p.sex)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            {patients.hasNextPage ? (
              <div className="load-more">
                <button type="button" className="secondary" onClick={() => void patients.fetchNextPage()} disabled={patients.isFetchingNextPage}>
                  {patients.isFetchingNextPage ? "Loading…" : "Load more"}
                </button>
              </div>
            ) : null}
            {patients.error ? (
              <p className="error-text" role="alert">
                Could not load: {friendlyMessage(readError(patients.error))}
              </p>
            ) : null}
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

export function SkeletonTable({ columns, rows, label: name }: { columns: number; rows: number; label: string }) {
  return (
    <div aria-busy="true" aria-label={name} role="status">
      <table className="data skeleton-table">
        <tbody>
          {Array.from({ length: rows }, (_, r) => (
            <tr key={r}>
              {Array.from({ length: columns }, (_, c) => (
                <td key={c}>
                  <div className="skeleton" style={{ width: `${50 + ((r * 7 + c * 13) % 40)}%` }} />
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
