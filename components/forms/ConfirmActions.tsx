"use client";
// The buttons that end an admin's operation form (a rebuild, a dead letter set aside, snapshots
// discarded): the action, named while it runs, and Back.
type Props = { label: string; pendingLabel: string; pending: boolean; disabled?: boolean; danger?: boolean; onBack: () => void };

export function ConfirmActions({ label, pendingLabel, pending, disabled = false, danger = false, onBack }: Props) {
  return (
    <div className="actions">
      <button type="submit" className={danger ? "danger" : undefined} disabled={pending || disabled}>
        {pending ? pendingLabel : label}
      </button>
      <button type="button" className="secondary" onClick={onBack}>
        Back
      </button>
    </div>
  );
}
