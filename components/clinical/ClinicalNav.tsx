"use client";
import Link from "next/link";
import { usePathname } from "next/navigation";

const links = [
  { href: "/patients", label: "Patients" },
  { href: "/orders", label: "Order worklist" },
  { href: "/orders/turnaround", label: "Turnaround" },
  { href: "/census", label: "Census" },
];

/** The clinical section's own tabs, under the top bar. */
export function ClinicalNav() {
  const pathname = usePathname();
  // The most specific tab holding this page: /orders/turnaround is Turnaround's, not the worklist's.
  const holder = links
    .filter((l) => pathname === l.href || pathname.startsWith(`${l.href}/`))
    .sort((a, b) => b.href.length - a.href.length)[0];
  return (
    <nav className="subnav" aria-label="Clinical">
      {links.map((l) => (
        <Link key={l.href} href={l.href} aria-current={pathname === l.href ? "page" : holder === l ? "true" : undefined}>
          {l.label}
        </Link>
      ))}
    </nav>
  );
}
