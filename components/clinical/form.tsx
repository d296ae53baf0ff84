"use client";
// Form building blocks: labelled fields with errors tied to their inputs, the command id that
// makes a re-sent command harmless, and the pieces the inline forms of the chart and the worklist
// share. The forms' state and checks are components/forms/useSchemaForm.ts'.
import { useEffect, useMemo, useRef, useState, type ReactNode, type RefObject } from "react";
import { label } from "@/components/format";

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
 * The server answers a re-sent id with the first attempt's result: creates derive the new
 * record's id from it, so a retried "register" or "place order" lands on the record the first
 * attempt made, never on a second one. Hence every edit of a value must `reset()`.
 */
export function useCommandId() {
  const current = useRef<string | null>(null);
  const sends = useRef(new Map<string, number>());
  return useMemo(
    () => ({
      /** The id to send now; call once per send, so `resent` can count. */
      get: () => {
        const id = (current.current ??= randomUUID());
        sends.current.set(id, (sends.current.get(id) ?? 0) + 1);
        return id;
      },
      reset: () => {
        current.current = null;
      },
      /** This id went out more than once: a "nothing changed" answer means an earlier send did it. */
      resent: (id: string | undefined) => (id ? (sends.current.get(id) ?? 0) > 1 : false),
    }),
    [],
  );
}

/**
 * An inline form that just opened: focus its first field. When it closes (Close, saved), its
 * opener comes back in its place, and focus goes there rather than to the page's top, where a
 * keyboard or screen reader user would have to find their place again: the first button of the
 * row above it (a status change under its order), else of its list item or section.
 */
export function useFocusFirstField(formRef: RefObject<HTMLElement | null>) {
  useEffect(() => {
    const form = formRef.current;
    form?.querySelector<HTMLElement>("input, select, textarea")?.focus();
    const row = form?.closest("tr")?.previousElementSibling;
    const homes = [row, form?.parentElement?.closest("li"), form?.closest("section")].filter((e): e is Element => !!e);
    return () => {
      // After React has put the opener back (the next frame), and only if focus was lost.
      requestAnimationFrame(() => {
        if (document.activeElement && document.activeElement !== document.body) return;
        for (const home of homes) {
          const opener = home.isConnected ? home.querySelector<HTMLElement>("button:not(:disabled)") : null;
          if (opener) return opener.focus();
        }
      });
    };
  }, [formRef]);
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

/** What the chart and the worklist give the inline forms they open. */
export type InlineFormProps = { onDone: (message: string) => void; onClose: () => void };

/** `<option>`s for enum values, labelled for people ("in_progress" -> "In progress"). */
export function Options({ values }: { values: readonly string[] }) {
  return (
    <>
      {values.map((v) => (
        <option key={v} value={v}>
          {label(v)}
        </option>
      ))}
    </>
  );
}

/** An inline form's buttons: submit (renamed and disabled while the command is on its way, or disabled when told), and Close. */
export function InlineFormActions({
  pending,
  submit,
  sending,
  danger,
  disabled,
  onClose,
}: {
  pending: boolean;
  submit: string;
  sending: string;
  danger?: boolean;
  /** Not to be sent as it stands (the record changed since the form opened). */
  disabled?: boolean;
  onClose: () => void;
}) {
  return (
    <div className="actions">
      <button type="submit" className={danger ? "danger" : undefined} disabled={pending || disabled}>
        {pending ? sending : submit}
      </button>
      <button type="button" className="secondary" onClick={onClose}>
        Close
      </button>
    </div>
  );
}
