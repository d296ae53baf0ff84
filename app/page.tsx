import Link from "next/link";
import { HealthPanel } from "@/components/HealthPanel";
import { currentUser } from "@/server/auth/session";
import { sectionsFor } from "@/server/auth/sections";

export const dynamic = "force-dynamic";

const blurbs: Record<string, string> = {
  "/patients": "Find and register patients, update demographics, run encounters and orders.",
  "/audit": "Who read which chart and when; the event history, timelines, a record as it was.",
  "/admin": "Users and roles, projections, the outbox, snapshots and metrics.",
};

export default async function Home() {
  const user = await currentUser();
  const sections = sectionsFor(user);
  return (
    <main className="page">
      <h1>EMR Event Store</h1>
      <p className="subtitle">Every change to a record is an immutable event: who, when, why, and what caused it.</p>
      {user ? null : (
        <section className="panel" aria-labelledby="sign-in-cta">
          <h2 id="sign-in-cta">Sign in to use the console</h2>
          <p className="muted">Patient data, audit trails and operations are for signed-in staff only.</p>
          <Link className="button" href="/sign-in">
            Sign in
          </Link>
        </section>
      )}
      <HealthPanel />
      {user && sections.length === 0 ? (
        <div className="alert warn" role="status">
          Your account has no role yet, so no section is open to you. Ask an admin.
        </div>
      ) : null}
      <div className="grid cards">
        {sections.map((s) => (
          <Link key={s.href} className="card" href={s.href}>
            <h3>{s.label}</h3>
            <p>{blurbs[s.href]}</p>
          </Link>
        ))}
      </div>
    </main>
  );
}
