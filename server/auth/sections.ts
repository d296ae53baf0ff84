// The console's sections, who may open them, and where to go after signing in.
import type { Role, SessionUser } from "./roles";

export type Section = { href: string; label: string; role: Role };

export const sections: readonly Section[] = [
  { href: "/patients", label: "Clinical", role: "clinician" },
  { href: "/audit", label: "Audit", role: "compliance" },
  { href: "/admin", label: "Admin", role: "admin" },
];

export function sectionsFor(user: Pick<SessionUser, "roles"> | null): Section[] {
  return user ? sections.filter((s) => user.roles.includes(s.role)) : [];
}

/** A path on this site to return to after signing in; anything else (another origin, //host) is "/". */
export function safeNext(next: string | string[] | undefined): string {
  const value = Array.isArray(next) ? next[0] : next;
  return value && value.length <= 500 && /^\/(?![/\\])[^\s\\]*$/.test(value) ? value : "/";
}
