"use client";
// Form building blocks: labelled fields with errors tied to their inputs, the command id that
// makes a re-sent command harmless, and focus on the first invalid field after a failed submit.
import { useEffect, useMemo, useRef, useState, type ReactNode, type RefObject } from "react";

export type FieldErrors = Record<string, string | undefined>;

/** id, aria-invalid and aria-describedby for the input of a <Field id=...>. */
export function fieldProps(id: string, error?: string, hint?: string) {
  const describedBy = [hint ? `${id}-hint` : null, error ? `${id}-error` : null].filter(Boolean).join(" ");
  return {
    id,
    name: id,
    "aria-invalid": error ? (true as const) : undefined,
    "aria-describedby": describedBy || undefined,
  };
}

export function Field({
  id,
  label,
  hint,
  error,
  required,
  optional,
  badge,
  children,
  className,
}: {
  id: string;
  label: ReactNode;
  hint?: string;
  error?: string;
  required?: boolean;
  optional?: boolean;
  /** Shown after the label, e.g. an "edited" mark. */
  badge?: ReactNode;
  children: ReactNode;
  className?: string;
}) {
  return (
    <div className={className ? `field ${className}` : "field"}>
      <label htmlFor={id}>
        {label}
        {required ? (
          <span className="req" aria-hidden="true">
            {" "}
            *
          </span>
        ) : optional ? (
          <span className="opt"> (optional)</span>
        ) : null}
        {badge}
      </label>
      {children}
      {hint ? (
        <span className="hint" id={`${id}-hint`}>
          {hint}
        </span>
      ) : null}
      {error ? (
        <span className="error" id={`${id}-error`}>
          {error}
        </span>
      ) : null}
    </div>
  );
}

function randomUUID(): string {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  // crypto.randomUUID exists only in secure contexts; plain-http intranet hosts get this v4 uuid.
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * One command id per distinct command: the same id while the user re-sends the same values
 * (double click, retry after a network error), a new one once they edit the form or it succeeded.
 */
export function useCommandId() {
  const ref = useRef<string | null>(null);
  return useMemo(
    () => ({
      get: () => (ref.current ??= randomUUID()),
      reset: () => {
        ref.current = null;
      },
    }),
    [],
  );
}

/** After a failed submit (bump `attempt`), move focus to the first invalid field of the form. */
export function useFocusFirstInvalid(formRef: RefObject<HTMLElement | null>, attempt: number) {
  useEffect(() => {
    if (attempt === 0) return;
    const first = formRef.current?.querySelector<HTMLElement>('[aria-invalid="true"], [data-invalid="true"]');
    first?.focus();
  }, [formRef, attempt]);
}

export function useDebounced<T>(value: T, ms: number): T {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setDebounced(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return debounced;
}

/** The form-level error: announced, and named so the fields' errors read as its details. */
export function FormError({ message, children }: { message: string | null; children?: ReactNode }) {
  if (!message) return null;
  return (
    <div className="alert error" role="alert">
      {message}
      {children}
    </div>
  );
}

/** Today's latest calendar date anywhere on Earth (UTC+14), as the server checks dates of birth. */
export function latestDateOnEarth(now: Date): string {
  return new Date(now.getTime() + 14 * 3_600_000).toISOString().slice(0, 10);
}
