"use client";
// The audit filters' pickers: a patient found by name or MRN, a member of staff by name or email,
// then picked from the matches, never typed as an id. Shared by the access log and the event log.
// Each is a search of its own but not a form (Enter and Find search, nothing is submitted), so it
// can sit inside another filter form without sending it.
import { useQuery } from "@tanstack/react-query";
import { useRef, useState, type ReactNode } from "react";
import { mrnText } from "../format";
import { ErrorState, Loading } from "../States";
import { useTRPC } from "../trpc";
import { errorText, shortId } from "./format";

/** A picked patient or user: the id a URL holds, and the name shown for it. */
export type Picked = { id: string; label: string };

/** "Lucas Thomas (MRN: MRN101143)": a picked patient as the filter and its headings name them. */
export const patientLabel = (name: string, mrn: string) => `${name} (${mrnText(mrn)})`;

/**
 * The patient or user a URL's filter holds by id, named: by the name picked in this visit
 * (`known`), else by asking the server (`audit.filterLabels`), so a reload, Back or a shared link
 * shows the name too. "…" until it answers; an id on file under nobody says so.
 */
export function useFilterLabel(kind: "patient" | "user", id: string | undefined, known: Readonly<Record<string, string>>): Picked | null {
  const trpc = useTRPC();
  const found = useQuery({
    ...trpc.audit.filterLabels.queryOptions(kind === "patient" ? { patientId: id } : { userId: id }, { staleTime: 5 * 60_000 }),
    enabled: id !== undefined && known[id] === undefined,
  });
  if (id === undefined) return null;
  if (known[id]) return { id, label: known[id] };
  if (found.isError) return { id, label: `${kind} ${shortId(id)}` };
  if (!found.data) return { id, label: "…" };
  const named = kind === "patient" ? (found.data.patient ? patientLabel(found.data.patient.name, found.data.patient.mrn) : null) : (found.data.user?.name ?? null);
  return { id, label: named ?? `not on file (${shortId(id)})` };
}

/** What was picked, with a button that clears it (the filter then reads "any"). */
export function PickedChip({ name, label, onClear, className }: { name: string; label: string; onClear: () => void; className?: string }) {
  return (
    <div className={className ? `field ${className}` : "field"}>
      <span className="label">{name}</span>
      <div className="row tight">
        <strong data-testid={`picked-${name.toLowerCase()}`}>{label}</strong>
        <button type="button" className="secondary small" onClick={onClear} aria-label={`Any ${name.toLowerCase()}`}>
          Change
        </button>
      </div>
    </div>
  );
}

type PickerProps = { picked: Picked | null; onPick: (p: Picked | null) => void; inputId?: string; className?: string };

/** A patient by name or MRN (the compliance patient search), then picked from the matches. */
export function PatientPicker({ inputId = "patient", ...props }: PickerProps) {
  const trpc = useTRPC();
  const [term, setTerm] = useState<string | null>(null);
  const found = useQuery({ ...trpc.audit.patients.queryOptions({ search: term ?? "", limit: 8 }), enabled: !!term && !props.picked });
  const pick = (p: NonNullable<typeof found.data>["items"][number]) => props.onPick({ id: p.patientId, label: patientLabel(`${p.givenName} ${p.familyName}`, p.mrn) });
  return (
    <PickerField {...props} name="Patient" label="Patient (name or MRN)" inputId={inputId} onFind={setTerm}>
      {term ? (
        <Matches found={found} what="patients" items={found.data?.items} keyOf={(p) => p.patientId} noMatch={`No patient matches “${term}”: the log is not filtered. Names and MRNs match from their start.`}>
          {(p) => (
            <button type="button" className="pick" onClick={() => pick(p)}>
              {p.familyName}, {p.givenName} · {mrnText(p.mrn)} · born {p.dateOfBirth}
            </button>
          )}
        </Matches>
      ) : null}
    </PickerField>
  );
}

/** A member of staff by name or email, picked from the matches (names shown, not ids). Find with nothing typed lists the first few. */
export function UserPicker({ inputId = "user", ...props }: PickerProps) {
  const trpc = useTRPC();
  const [term, setTerm] = useState<string | null>(null);
  const found = useQuery({ ...trpc.audit.users.queryOptions({ search: term ?? "", limit: 10 }), enabled: term !== null && !props.picked });
  return (
    <PickerField {...props} name="User" label="User (name or email)" inputId={inputId} onFind={setTerm}>
      {term === null ? null : (
        <Matches found={found} what="users" items={found.data?.users} keyOf={(u) => u.id} noMatch={`Nobody matches “${term}”: the log is not filtered.`}>
          {(u) => (
            <button type="button" className="pick" onClick={() => props.onPick({ id: u.id, label: u.name })}>
              {u.name} <span className="muted">· {u.email}</span>
            </button>
          )}
        </Matches>
      )}
    </PickerField>
  );
}

/**
 * The picked name with Change, or a labelled input and Find as a search landmark named `name`
 * ("any …" until something is picked); Enter finds too, and never submits a form around it.
 */
function PickerField({
  name,
  label,
  inputId,
  className,
  picked,
  onPick,
  onFind,
  children,
}: Required<Omit<PickerProps, "className">> & { className?: string; name: string; label: string; onFind: (term: string) => void; children: ReactNode }) {
  const input = useRef<HTMLInputElement>(null);
  if (picked) return <PickedChip name={name} label={picked.label} onClear={() => onPick(null)} className={className} />;
  const find = () => onFind((input.current?.value ?? "").trim());
  return (
    <div className={className ? `field picker ${className}` : "field picker"}>
      <div role="search" aria-label={name}>
        <label htmlFor={inputId}>{label}</label>
        <div className="row tight">
          <input
            ref={input}
            id={inputId}
            maxLength={100}
            autoComplete="off"
            placeholder={`any ${name.toLowerCase()}`}
            onKeyDown={(e) => {
              if (e.key !== "Enter") return;
              e.preventDefault();
              find();
            }}
          />
          <button type="button" className="secondary" onClick={find}>
            Find
          </button>
        </div>
      </div>
      {children}
    </div>
  );
}

/** What a picker's search found: loading, failed, nothing (said, never an empty list), or the matches to pick from. */
function Matches<T>({
  found,
  what,
  items,
  keyOf,
  noMatch,
  children,
}: {
  found: { isPending: boolean; isError: boolean; error: unknown; refetch: () => unknown };
  what: "patients" | "users";
  items: readonly T[] | undefined;
  keyOf: (item: T) => string;
  noMatch: string;
  children: (item: T) => ReactNode;
}) {
  const one = what === "patients" ? "patient" : "user";
  if (found.isPending) return <Loading label={`Finding ${what}`} lines={["60%"]} />;
  if (found.isError || !items) return <ErrorState onRetry={() => void found.refetch()}>The {one} search failed: {errorText(found.error)}</ErrorState>;
  if (items.length === 0) {
    return (
      <p className="alert warn" role="alert" data-testid={`${one}-no-match`}>
        {noMatch}
      </p>
    );
  }
  return (
    <ul className="pick-list" aria-label={`Matching ${what}`}>
      {items.map((item) => (
        <li key={keyOf(item)}>{children(item)}</li>
      ))}
    </ul>
  );
}
