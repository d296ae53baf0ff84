"use client";
import Link from "next/link";
import { usePathname } from "next/navigation";

const links = [
  { href: "/patients", label: "Patients" },
  { href: "/orders", label: "Order worklist" },
];

/** The clinical section's own tabs, under the top bar. */
export function ClinicalNav() {
  const pathname = usePathname();
  return (
    <nav className="subnav" aria-label="Clinical">
      {links.map((l) => (
        <Link key={l.href} href={l.href} aria-current={pathname === l.href ? "page" : pathname.startsWith(`${l.href}/`) ? "true" : undefined}>
          {l.label}
        </Link>
      ))}
    </nav>
  );
}
