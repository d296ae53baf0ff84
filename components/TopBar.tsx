import Link from "next/link";
import type { SessionUser } from "@/server/auth/roles";
import { MainNav, type NavItem } from "./MainNav";
import { SignOutButton } from "./SignOutButton";

/** The console's header: only the sections the user's roles open, and who is signed in. */
export function TopBar({ user, items }: { user: SessionUser | null; items: NavItem[] }) {
  return (
    <header className="topbar">
      <Link className="brand" href="/">
        EMR Event Store
      </Link>
      <MainNav items={items} />
      {user ? (
        <div className="who" data-testid="signed-in-user">
          <span>
            <span className="who-name">{user.name}</span>{" "}
            {user.roles.length === 0 ? (
              <span className="badge warn">no role</span>
            ) : (
              user.roles.map((role) => (
                <span key={role} className="badge role">
                  {role}
                </span>
              ))
            )}
          </span>
          <SignOutButton />
        </div>
      ) : null}
    </header>
  );
}
