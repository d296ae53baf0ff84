"use client";
import Link from "next/link";
import { usePathname } from "next/navigation";

const links = [
  { href: "/audit", label: "Access log", exact: true },
  { href: "/audit/events", label: "Event log", exact: false },
  { href: "/audit/patients", label: "Patients", exact: false },
  { href: "/audit/activity", label: "Activity", exact: false },
  { href: "/audit/access-by-user", label: "Charts opened per user", exact: false },
  { href: "/audit/emergency", label: "Accesses needing review", exact: false },
  { href: "/audit/integrity", label: "Integrity", exact: false },
];

/** The audit section's own tabs, under the top bar. */
export function AuditNav() {
  const pathname = usePathname();
  return (
    <nav className="subnav" aria-label="Audit">
      {links.map((l) => {
        const here = pathname === l.href;
        const inside = !l.exact && pathname.startsWith(`${l.href}/`);
        return (
          <Link key={l.href} href={l.href} aria-current={here ? "page" : inside ? "true" : undefined}>
            {l.label}
          </Link>
        );
      })}
    </nav>
  );
}
