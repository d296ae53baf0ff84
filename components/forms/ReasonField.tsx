"use client";
// The reason an admin gives for an operation on the machinery (a rebuild, a dead letter set
// aside): required, recorded in the audit log, with the server's refusal shown beside it.
type Props = { id: string; label: string; value: string; onChange: (value: string) => void; issue?: string };

export function ReasonField({ id, label, value, onChange, issue }: Props) {
  return (
    <div className="field">
      <label htmlFor={id}>
        {label}
        <span className="req" aria-hidden="true">
          {" "}
          *
        </span>
      </label>
      <textarea
        id={id}
        value={value}
        onChange={(e) => onChange(e.target.value)}
        maxLength={500}
        rows={2}
        // Said inline by the server's answer, as every other form's fields are, not by the
        // browser's own bubble.
        aria-required="true"
        aria-invalid={issue ? true : undefined}
        aria-describedby={issue ? `${id}-error` : undefined}
      />
      {issue ? (
        <span className="error" id={`${id}-error`} role="alert">
          {issue}
        </span>
      ) : null}
    </div>
  );
}
