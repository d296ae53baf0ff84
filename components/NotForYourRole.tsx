import type { Role, SessionUser } from "@/server/auth/roles";

/** What a signed-in user sees in a section their roles do not open (the 403 of the console). */
export function NotForYourRole({ user, needs }: { user: SessionUser; needs: Role }) {
  return (
    <main id="main" tabIndex={-1} className="page">
      <section className="panel" aria-labelledby="forbidden-title" data-testid="forbidden">
        <h1 id="forbidden-title">Not for your role</h1>
        <p>
          This section needs the <strong>{needs}</strong> role. You are signed in as {user.email}
          {user.roles.length > 0 ? ` with the ${user.roles.join(", ")} role${user.roles.length > 1 ? "s" : ""}` : " without a role"}.
        </p>
        <p className="muted">Ask an admin if your work needs it.</p>
      </section>
    </main>
  );
}
