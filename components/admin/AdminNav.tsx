"use client";
import Link from "next/link";
import { usePathname } from "next/navigation";

/** The admin section's pages, by the names their tabs and the start page both use. */
export const adminDestinations = [
  { href: "/admin", label: "Users and outbox", blurb: "The system and its migrations, users and their roles, the outbox and its dead letters, snapshots." },
  { href: "/admin/metrics", label: "Metrics", blurb: "Append rate, store size, outbox lag, conflicts, replay and load times, errors: the last hour or day." },
  { href: "/admin/projections", label: "Projections", blurb: "Each read model's lag and state, and rebuilds with their progress." },
  { href: "/admin/schemas", label: "Event schemas", blurb: "Every event type, its versions and the upcasters between them." },
  { href: "/admin/erasure", label: "Patient erasure", blurb: "Forget a patient for good: their health information is encrypted under a key of their own, and erasing destroys it." },
] as const;

/** The admin section's own tabs, under the top bar. */
export function AdminNav() {
  const pathname = usePathname();
  return (
    <nav className="subnav" aria-label="Admin">
      {adminDestinations.map((l) => (
        <Link key={l.href} href={l.href} aria-current={pathname === l.href ? "page" : undefined}>
          {l.label}
        </Link>
      ))}
    </nav>
  );
}
