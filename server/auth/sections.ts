// The console's sections, who may open them, and where to go after signing in.
import type { Role, SessionUser } from "./roles";

/** `paths`: where else the section's pages live (its sub-navigation's tabs), for the top bar's current item. */
export type Section = { href: string; label: string; role: Role; paths?: readonly string[] };

export const sections: readonly Section[] = [
  { href: "/patients", label: "Clinical", role: "clinician", paths: ["/orders", "/census"] },
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
