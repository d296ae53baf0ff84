"use client";
import Link from "next/link";
import { usePathname } from "next/navigation";

/** The audit section's pages, by the names their tabs, headings and the start page all use. */
export const auditDestinations = [
  { href: "/audit", label: "Access log", exact: true, blurb: "Who opened which patient's chart, through which screen, and when." },
  { href: "/audit/events", label: "Event log", exact: false, blurb: "Every change to every record: who, when, why, and what caused it." },
  { href: "/audit/patients", label: "Patients", exact: false, blurb: "A patient's timeline, and their record exactly as it was at any past moment." },
  { href: "/audit/activity", label: "Activity", exact: false, blurb: "Each user's events by day and hour, with night work and busy days marked." },
  { href: "/audit/access-by-user", label: "Charts opened per user", exact: false, blurb: "How many charts each user opened in a period, and whose." },
  { href: "/audit/emergency", label: "Accesses needing review", exact: false, blurb: "Emergency (break-the-glass) accesses, to review with a note." },
  { href: "/audit/integrity", label: "Integrity", exact: false, blurb: "The log's seals, a full verification, and the exports made." },
] as const;

/** The audit section's own tabs, under the top bar. */
export function AuditNav() {
  const pathname = usePathname();
  return (
    <nav className="subnav" aria-label="Audit">
      {auditDestinations.map((l) => {
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
