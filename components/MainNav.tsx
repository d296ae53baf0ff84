"use client";
import Link from "next/link";
import { usePathname } from "next/navigation";

/** `paths`: the section's pages (default: under `href`); the item is current on any of them. */
export type NavItem = { href: string; label: string; paths?: readonly string[] };

const under = (pathname: string, path: string) => pathname === path || pathname.startsWith(`${path}/`);

export function MainNav({ items }: { items: NavItem[] }) {
  const pathname = usePathname();
  return (
    <nav aria-label="Main">
      {items.map((item) => (
        <Link
          key={item.href}
          href={item.href}
          aria-current={(item.paths ?? [item.href]).some((path) => under(pathname, path)) ? "page" : undefined}
        >
          {item.label}
        </Link>
      ))}
    </nav>
  );
}
