"use client";
import Link from "next/link";
import { usePathname } from "next/navigation";

const links = [
  { href: "/admin", label: "Users and outbox" },
  { href: "/admin/metrics", label: "Metrics" },
  { href: "/admin/projections", label: "Projections" },
  { href: "/admin/schemas", label: "Event schemas" },
  { href: "/admin/erasure", label: "Patient erasure" },
];

/** The admin section's own tabs, under the top bar. */
export function AdminNav() {
  const pathname = usePathname();
  return (
    <nav className="subnav" aria-label="Admin">
      {links.map((l) => (
        <Link key={l.href} href={l.href} aria-current={pathname === l.href ? "page" : undefined}>
          {l.label}
        </Link>
      ))}
    </nav>
  );
}
