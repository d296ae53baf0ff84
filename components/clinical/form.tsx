"use client";
// Form building blocks: labelled fields with errors tied to their inputs, the command id that
// makes a re-sent command harmless, the errors and focus of a form that sends one command, and the
// pieces the inline forms of the chart and the worklist share.
import { useEffect, useMemo, useRef, useState, type ReactNode, type RefObject } from "react";
import { label } from "@/components/format";

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

/** After a failed submit (bump `attempt`), move focus to the first invalid field of the form. */
export function useFocusFirstInvalid(formRef: RefObject<HTMLElement | null>, attempt: number) {
  useEffect(() => {
    if (attempt === 0) return;
    const first = formRef.current?.querySelector<HTMLElement>('[aria-invalid="true"], [data-invalid="true"]');
    first?.focus();
  }, [formRef, attempt]);
}

/** An inline form that just opened: focus its first field. */
export function useFocusFirstField(formRef: RefObject<HTMLElement | null>) {
  useEffect(() => {
    formRef.current?.querySelector<HTMLElement>("input, select, textarea")?.focus();
  }, [formRef]);
}

/**
 * A form that sends one command: its command id, per-field errors, the form-level alert, and
 * focus on the first invalid field after every failed attempt (client checks or the server's answer).
 */
export function useCommandForm(formRef: RefObject<HTMLElement | null>) {
  const commandId = useCommandId();
  const [errors, setErrors] = useState<FieldErrors>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [attempt, setAttempt] = useState(0);
  useFocusFirstInvalid(formRef, attempt);

  const fail = (fields: FieldErrors, message: string) => {
    setErrors(fields);
    setFormError(message);
    setAttempt((n) => n + 1);
  };
  const clearErrors = () => {
    setErrors({});
    setFormError(null);
  };
  return {
    commandId,
    errors,
    formError,
    setFormError,
    /** The user changed a value: a new command from now on, and the field's error no longer applies. */
    edited: (key?: string) => {
      commandId.reset();
      if (key) setErrors((e) => (e[key] ? { ...e, [key]: undefined } : e));
    },
    /** Mark these fields, say `message` in the alert, focus the first invalid field. */
    fail,
    /** No field marked, no alert. */
    clearErrors,
    /** The client checks before sending: true when none failed; otherwise the fields are marked. */
    passes: (found: FieldErrors) => {
      const invalid = Object.fromEntries(Object.entries(found).filter(([, v]) => v));
      if (Object.keys(invalid).length > 0) {
        fail(invalid, "Check the highlighted fields.");
        return false;
      }
      clearErrors();
      return true;
    },
  };
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

/** An inline form's buttons: submit (renamed and disabled while the command is on its way), and Close. */
export function InlineFormActions({
  pending,
  submit,
  sending,
  danger,
  onClose,
}: {
  pending: boolean;
  submit: string;
  sending: string;
  danger?: boolean;
  onClose: () => void;
}) {
  return (
    <div className="actions">
      <button type="submit" className={danger ? "danger" : undefined} disabled={pending}>
        {pending ? sending : submit}
      </button>
      <button type="button" className="secondary" onClick={onClose}>
        Close
      </button>
    </div>
  );
}

/** In place of an inline form whose record someone else changed since it opened: reload, then choose again. */
export function ChangedSinceOpened({ title, message, action, onReload }: { title: string; message: string; action: string; onReload: () => void }) {
  return (
    <div className="alert warn inline-form" role="alert">
      <h3>{title}</h3>
      <p>{message}</p>
      <div className="actions">
        <button type="button" onClick={onReload}>
          {action}
        </button>
      </div>
    </div>
  );
}
