import Link from "next/link";

const sections = [
  { href: "/patients", label: "Clinical" },
  { href: "/audit", label: "Audit" },
  { href: "/admin", label: "Admin" },
];

export function TopBar() {
  return (
    <header className="topbar">
      <Link className="brand" href="/">
        EMR Event Store
      </Link>
      <nav aria-label="Main">
        {sections.map((s) => (
          <Link key={s.href} href={s.href}>
            {s.label}
          </Link>
        ))}
      </nav>
    </header>
  );
}
