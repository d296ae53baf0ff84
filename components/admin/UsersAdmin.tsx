"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import type { Role } from "@/server/auth/roles";
import { TableHead } from "../DataTable";
import { DateTime } from "../DateTime";
import { EmptyState, ErrorState, Loading } from "../States";
import { useTRPC } from "../trpc";
import { useSingleFlight } from "../useSingleFlight";
import { enrolmentUrl } from "@/shared/enrolment";

const allRoles: Role[] = ["clinician", "compliance", "admin"];

type AccountStatus = { state: "active" } | { state: "pending"; expiresAt: Date | null; expired: boolean };
type UserRow = { id: string; name: string; email: string; roles: Role[]; status: AccountStatus };
type IssuedLink = { token: string; expiresAt: Date };

/**
 * An enrolment link, shown once: the server keeps only its hash, so it cannot be shown again
 * (a new one replaces it). The admin hands it to the user through the hospital's own channel.
 */
function EnrolmentLink({ link, name }: { link: IssuedLink; name: string }) {
  const url = enrolmentUrl(window.location.origin, link.token);
  const [copied, setCopied] = useState<"yes" | "failed" | null>(null);
  return (
    <div className="alert ok stack" role="status" data-testid="enrolment-link">
      <p>
        Enrolment link for <strong>{name}</strong>, shown only this once. Give it to them yourself or through the hospital&apos;s identity
        process; with it they set their own password. It works once, until <DateTime value={link.expiresAt} precision="minute" />.
      </p>
      <div className="row">
        <input className="mono link-field" aria-label={`Enrolment link for ${name}`} value={url} readOnly onFocus={(e) => e.currentTarget.select()} />
        <button
          type="button"
          onClick={() =>
            navigator.clipboard.writeText(url).then(
              () => setCopied("yes"),
              () => setCopied("failed"),
            )
          }
        >
          Copy link
        </button>
      </div>
      {copied === "yes" ? <span className="muted">Copied.</span> : copied === "failed" ? <span className="error">Copying did not work: select the link and copy it.</span> : null}
    </div>
  );
}

function StatusCell({ status }: { status: AccountStatus }) {
  if (status.state === "active") return <span className="badge ok">active</span>;
  if (status.expiresAt && !status.expired) {
    return (
      <span className="badge warn">
        enrolment pending (expires <DateTime value={status.expiresAt} precision="minute" />)
      </span>
    );
  }
  // No password and no link: accounts made before links, and the demo history's clinicians.
  if (!status.expiresAt) return <span className="badge muted">no password: cannot sign in</span>;
  return <span className="badge bad">enrolment link expired: issue a new one</span>;
}

/** Reset password (active accounts) or a new link (pending ones), with the reason for the trail. */
function NewLink({ user, onIssued }: { user: UserRow; onIssued: (link: IssuedLink) => void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [open, setOpen] = useState(false);
  const [reason, setReason] = useState("");
  const issue = useMutation(
    trpc.users.issueEnrolmentLink.mutationOptions({
      onSuccess: (link) => {
        onIssued(link);
        setOpen(false);
        setReason("");
        return queryClient.invalidateQueries({ queryKey: trpc.users.list.queryKey() });
      },
    }),
  );
  const once = useSingleFlight();
  const label = user.status.state === "active" ? "Reset password" : user.status.expiresAt ? "New enrolment link" : "Issue enrolment link";
  if (!open) {
    return (
      <button type="button" className="secondary" onClick={() => setOpen(true)}>
        {label}
      </button>
    );
  }
  return (
    <div className="stack">
      {user.status.state === "active" ? (
        <span className="hint">Their password stops working now and they are signed out; they set a new one with the link.</span>
      ) : (
        <span className="hint">The previous link stops working.</span>
      )}
      <div className="field">
        <label htmlFor={`link-reason-${user.id}`}>Reason (kept in the audit log)</label>
        <input id={`link-reason-${user.id}`} value={reason} onChange={(e) => setReason(e.target.value)} maxLength={500} required />
      </div>
      {issue.isError ? (
        <span className="error" role="alert">
          {issue.error.message}
        </span>
      ) : null}
      <div className="actions">
        <button type="button" disabled={reason.trim().length < 3 || issue.isPending} onClick={() => once(() => issue.mutateAsync({ userId: user.id, reason }))}>
          {issue.isPending ? "Issuing…" : `${label}: issue link`}
        </button>
        <button type="button" className="secondary" onClick={() => setOpen(false)}>
          Cancel
        </button>
      </div>
    </div>
  );
}

function RoleBoxes({
  idPrefix,
  value,
  onChange,
  legend,
  disabled = false,
}: {
  idPrefix: string;
  value: Role[];
  onChange: (r: Role[]) => void;
  legend: string;
  disabled?: boolean;
}) {
  return (
    <fieldset className="roles" disabled={disabled}>
      <legend className="sr-only">{legend}</legend>
      {allRoles.map((role) => (
        <label key={role} htmlFor={`${idPrefix}-${role}`}>
          <input
            id={`${idPrefix}-${role}`}
            type="checkbox"
            checked={value.includes(role)}
            onChange={(e) => onChange(e.target.checked ? allRoles.filter((r) => r === role || value.includes(r)) : value.filter((r) => r !== role))}
          />{" "}
          {role}
        </label>
      ))}
    </fieldset>
  );
}

function UserRoles({ user, isSelf }: { user: UserRow; isSelf: boolean }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [roles, setRoles] = useState<Role[]>(user.roles);
  // The row is keyed by the user alone (keyed by its roles too, a refresh remounted it and lost
  // "Saved" and a link shown once); roles changed on the server, by this admin or another, are
  // taken up here instead.
  const serverRoles = user.roles.join(",");
  const [seenRoles, setSeenRoles] = useState(serverRoles);
  if (serverRoles !== seenRoles) {
    setSeenRoles(serverRoles);
    setRoles(user.roles);
  }
  const [reason, setReason] = useState("");
  // Shown once, on a row of its own under the user's: the link is long.
  const [issued, setIssued] = useState<IssuedLink | null>(null);
  const save = useMutation(
    trpc.users.setRoles.mutationOptions({
      onSuccess: (saved) => {
        setRoles(saved.roles);
        return queryClient.invalidateQueries({ queryKey: trpc.users.list.queryKey() });
      },
    }),
  );
  const saveOnce = useSingleFlight();
  const changed = roles.length !== user.roles.length || roles.some((r) => !user.roles.includes(r));
  return (
    <>
    <tr data-testid={`user-${user.email}`}>
      <td>
        {user.name} {isSelf ? <span className="badge info">you</span> : null}
      </td>
      <td data-label="Email">{user.email}</td>
      <td data-label="Account">
        <StatusCell status={user.status} />
      </td>
      <td data-label="Roles">
        <RoleBoxes idPrefix={`roles-${user.id}`} value={roles} onChange={setRoles} legend={`Roles of ${user.name}`} disabled={isSelf} />
        {isSelf ? <span className="hint">Another admin changes your roles.</span> : null}
        {changed ? (
          <div className="field">
            <label htmlFor={`reason-${user.id}`}>Reason (kept in the audit log)</label>
            <input id={`reason-${user.id}`} value={reason} onChange={(e) => setReason(e.target.value)} maxLength={500} required />
          </div>
        ) : null}
        {save.isError ? (
          <div className="field">
            <span className="error" role="alert">
              {save.error.message}
            </span>
          </div>
        ) : null}
      </td>
      <td>
        <button
          type="button"
          disabled={isSelf || !changed || reason.trim().length < 3 || save.isPending}
          onClick={() => saveOnce(() => save.mutateAsync({ userId: user.id, roles, reason }, { onSuccess: () => setReason("") }))}
        >
          {save.isPending ? "Saving…" : "Save roles"}
        </button>
        {save.isSuccess && !changed ? (
          <span className="muted" role="status">
            {" "}
            Saved
          </span>
        ) : null}
        <div className="field">
          <NewLink user={user} onIssued={setIssued} />
        </div>
      </td>
    </tr>
    {issued ? (
      <tr data-testid={`link-${user.email}`}>
        <td colSpan={5}>
          <EnrolmentLink link={issued} name={user.name} />
        </td>
      </tr>
    ) : null}
    </>
  );
}

function AddUser() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [roles, setRoles] = useState<Role[]>([]);
  const create = useMutation(
    trpc.users.create.mutationOptions({ onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.users.list.queryKey() }) }),
  );
  const [createdName, setCreatedName] = useState("");
  // A double-click sent the user twice: the second's "already exists" replaced the first's
  // one-time link, which cannot be shown again.
  const once = useSingleFlight();

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const formElement = event.currentTarget;
    const form = new FormData(formElement);
    once(() =>
      create.mutateAsync(
        { email: String(form.get("email")), name: String(form.get("name")), roles },
        {
          onSuccess: () => {
            setCreatedName(String(form.get("name")));
            formElement.reset();
            setRoles([]);
          },
        },
      ),
    );
  }

  return (
    <section className="panel" aria-labelledby="add-user-title">
      <h2 id="add-user-title">Add a user</h2>
      {create.isError ? (
        <div className="alert error" role="alert">
          {create.error.data
            ? create.error.message
            : // Its answer was lost: the user may have been added, with a link nobody saw.
              "The server did not answer, so the user may or may not have been added. Check the list of users below: if they are there, issue them a new enrolment link from their row; if not, add them again."}
        </div>
      ) : null}
      {create.isSuccess ? <EnrolmentLink link={create.data.enrolment} name={createdName} /> : null}
      <p className="hint">
        You do not choose their password: adding the user gives you a one-time enrolment link, with which they set their own. Until then the
        account cannot sign in.
      </p>
      <form className="row" onSubmit={submit}>
        <div className="field">
          <label htmlFor="new-name">Name</label>
          <input id="new-name" name="name" required maxLength={100} />
        </div>
        <div className="field">
          <label htmlFor="new-email">Email</label>
          <input id="new-email" name="email" type="email" required maxLength={254} autoComplete="off" />
        </div>
        <div className="field">
          <span className="label">Roles</span>
          <RoleBoxes idPrefix="new-roles" value={roles} onChange={setRoles} legend="Roles of the new user" />
        </div>
        <div className="actions">
          <button type="submit" disabled={create.isPending}>
            {create.isPending ? "Adding…" : "Add user and make an enrolment link"}
          </button>
        </div>
      </form>
    </section>
  );
}

export function UsersAdmin({ currentUserId }: { currentUserId: string }) {
  const trpc = useTRPC();
  const users = useQuery(trpc.users.list.queryOptions());
  return (
    <>
      <section className="panel" aria-labelledby="users-title" data-testid="users">
        <h2 id="users-title">Users</h2>
        {users.isPending ? (
          <Loading label="Loading users" lines={["70%", "60%"]} />
        ) : users.isError ? (
          <ErrorState onRetry={() => void users.refetch()}>The users could not be loaded: {users.error.message}</ErrorState>
        ) : users.data.length === 0 ? (
          <EmptyState role="status">No users yet.</EmptyState>
        ) : (
          <table className="data card-rows">
            <TableHead columns={["Name", "Email", "Account", "Roles"]} actions />
            <tbody>
              {users.data.map((user) => (
                <UserRoles key={user.id} user={user} isSelf={user.id === currentUserId} />
              ))}
            </tbody>
          </table>
        )}
      </section>
      <AddUser />
    </>
  );
}
