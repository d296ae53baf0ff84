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
 * Sends that got no answer, by what they sent: the command may or may not have been applied, and
 * only the same id tells. The same input sent again, from this form or from one closed and
 * opened again meanwhile (a clinician who gave up on the alert and started over), goes with that
 * id, so the server answers with what it stored instead of applying it twice. In this page's
 * memory only: the inputs hold patient data. Forgotten once an answer comes.
 */
const unanswered = new Map<string, string>();
const UNANSWERED_KEPT = 50;
/** How often each id went out, for `resent`: a send from a form opened later counts too. */
const sendsOf = new Map<string, number>();

/** What a send is, for `unanswered`: its input without the command id, in a fixed key order. */
function sendKey(input: object): string {
  const sorted = (value: unknown): unknown =>
    Array.isArray(value)
      ? value.map(sorted)
      : value && typeof value === "object" && !(value instanceof Date)
        ? Object.fromEntries(Object.entries(value).filter(([k, v]) => k !== "commandId" && v !== undefined).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, sorted(v)]))
        : value;
  return JSON.stringify(sorted(input));
}

/**
 * One command id per distinct command: the same id while the user re-sends the same values
 * (double click, retry after a network error), a new one once they edit the form or it succeeded.
 * The server answers a re-sent id with the first attempt's result: creates derive the new
 * record's id from it, so a retried "register" or "place order" lands on the record the first
 * attempt made, never on a second one. Hence every edit of a value must `edited()`.
 */
export function useCommandId() {
  const current = useRef<string | null>(null);
  const lastKey = useRef<string | null>(null);
  return useMemo(() => {
    /** The id to send `input` with; call once per send, so `resent` can count. */
    const get = (input: object) => {
      const key = sendKey(input);
      if (current.current === null) current.current = unanswered.get(key) ?? null;
      const id = (current.current ??= randomUUID());
      lastKey.current = key;
      sendsOf.set(id, (sendsOf.get(id) ?? 0) + 1);
      return id;
    };
    return {
      get,
      /** `input` with its command id, as it is sent. */
      stamped: <T extends object>(input: T): T & { commandId: string } => ({ ...input, commandId: get(input) }),
      /** The last send got no answer: the same input, sent again later, goes with its id. */
      unanswered: () => {
        if (lastKey.current === null || current.current === null) return;
        unanswered.delete(lastKey.current);
        unanswered.set(lastKey.current, current.current);
        if (unanswered.size > UNANSWERED_KEPT) unanswered.delete(unanswered.keys().next().value!);
      },
      /** A value was edited: the next send is another command (unless edited back to an unanswered one). */
      edited: () => {
        current.current = null;
      },
      /** An answer came (saved, or refused): a new command from here on. */
      reset: () => {
        if (lastKey.current !== null) unanswered.delete(lastKey.current);
        current.current = null;
      },
      /** This id went out more than once: a "nothing changed" answer means an earlier send did it. */
      resent: (id: string | undefined) => (id ? (sendsOf.get(id) ?? 0) > 1 : false),
    };
  }, []);
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

/** An inline form's buttons: submit (renamed and disabled while the command is on its way, or disabled when told), and Close (or `closeLabel`). */
export function InlineFormActions({
  pending,
  submit,
  sending,
  danger,
  disabled,
  onClose,
  closeLabel = "Close",
}: {
  pending: boolean;
  submit: string;
  sending: string;
  danger?: boolean;
  /** Not to be sent as it stands (the record changed since the form opened). */
  disabled?: boolean;
  onClose: () => void;
  closeLabel?: string;
}) {
  return (
    <div className="actions">
      <button type="submit" className={danger ? "danger" : undefined} disabled={pending || disabled}>
        {pending ? sending : submit}
      </button>
      <button type="button" className="secondary" onClick={onClose}>
        {closeLabel}
      </button>
    </div>
  );
}
