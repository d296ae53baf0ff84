// A role's section of the start page: what waits for them, then a card for each of the section's
// pages, under the names its tabs use.
import Link from "next/link";
import type { ReactNode } from "react";

export type Destination = { href: string; label: string; blurb: string };

export function HomeSection({ id, title, testId, waiting, destinations }: { id: string; title: string; testId: string; waiting: ReactNode; destinations: readonly Destination[] }) {
  return (
    <section className="panel" aria-labelledby={id} data-testid={testId}>
      <h2 id={id}>{title}</h2>
      <div className="stack" aria-label="Waiting for you" role="group">
        {waiting}
      </div>
      <div className="grid cards">
        {destinations.map((d) => (
          <Link key={d.href} className="card" href={d.href}>
            <h3>{d.label}</h3>
            <p>{d.blurb}</p>
          </Link>
        ))}
      </div>
    </section>
  );
}
