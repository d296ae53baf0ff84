"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent } from "react";
import type { Role } from "@/server/auth/roles";
import { TableHead } from "../DataTable";
import { EmptyState, ErrorState, Loading } from "../States";
import { useTRPC } from "../trpc";

const allRoles: Role[] = ["clinician", "compliance", "admin"];

type UserRow = { id: string; name: string; email: string; roles: Role[] };

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
  const [reason, setReason] = useState("");
  const save = useMutation(
    trpc.users.setRoles.mutationOptions({
      onSuccess: (saved) => {
        setRoles(saved.roles);
        return queryClient.invalidateQueries({ queryKey: trpc.users.list.queryKey() });
      },
    }),
  );
  const changed = roles.length !== user.roles.length || roles.some((r) => !user.roles.includes(r));
  return (
    <tr data-testid={`user-${user.email}`}>
      <td>
        {user.name} {isSelf ? <span className="badge info">you</span> : null}
      </td>
      <td>{user.email}</td>
      <td>
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
          onClick={() => save.mutate({ userId: user.id, roles, reason }, { onSuccess: () => setReason("") })}
        >
          {save.isPending ? "Saving…" : "Save roles"}
        </button>
        {save.isSuccess && !changed ? (
          <span className="muted" role="status">
            {" "}
            Saved
          </span>
        ) : null}
      </td>
    </tr>
  );
}

function AddUser() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [roles, setRoles] = useState<Role[]>([]);
  const create = useMutation(
    trpc.users.create.mutationOptions({ onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.users.list.queryKey() }) }),
  );

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const formElement = event.currentTarget;
    const form = new FormData(formElement);
    create.mutate(
      { email: String(form.get("email")), name: String(form.get("name")), password: String(form.get("password")), roles },
      {
        onSuccess: () => {
          formElement.reset();
          setRoles([]);
        },
      },
    );
  }

  return (
    <section className="panel" aria-labelledby="add-user-title">
      <h2 id="add-user-title">Add a user</h2>
      {create.isError ? (
        <div className="alert error" role="alert">
          {create.error.message}
        </div>
      ) : null}
      {create.isSuccess ? (
        <div className="alert ok" role="status">
          User added.
        </div>
      ) : null}
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
          <label htmlFor="new-password">Initial password</label>
          <input id="new-password" name="password" type="password" required minLength={10} maxLength={128} autoComplete="new-password" />
          <span className="hint">10 to 128 characters.</span>
        </div>
        <div className="field">
          <span className="label">Roles</span>
          <RoleBoxes idPrefix="new-roles" value={roles} onChange={setRoles} legend="Roles of the new user" />
        </div>
        <div className="actions">
          <button type="submit" disabled={create.isPending}>
            {create.isPending ? "Adding…" : "Add user"}
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
          <ErrorState>The users could not be loaded: {users.error.message}</ErrorState>
        ) : users.data.length === 0 ? (
          <EmptyState role="status">No users yet.</EmptyState>
        ) : (
          <table className="data">
            <TableHead columns={["Name", "Email", "Roles"]} actions />
            <tbody>
              {users.data.map((user) => (
                <UserRoles key={`${user.id}:${user.roles.join(",")}`} user={user} isSelf={user.id === currentUserId} />
              ))}
            </tbody>
          </table>
        )}
      </section>
      <AddUser />
    </>
  );
}
