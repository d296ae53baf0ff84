import Link from "next/link";
import { HealthPanel } from "@/components/HealthPanel";
import { ClinicianHome } from "@/components/clinical/ClinicianHome";
import { ComplianceHome } from "@/components/audit/ComplianceHome";
import { AdminHome } from "@/components/admin/AdminHome";
import { currentUser } from "@/server/auth/session";
import { sectionsFor } from "@/server/auth/sections";

export const dynamic = "force-dynamic";

const blurbs: Record<string, string> = {
  "/patients": "Find and register patients, update demographics, run encounters and orders.",
  "/audit": "Who read which chart and when; the event history, timelines, a record as it was.",
  "/admin": "Users and roles, the system and its migrations, projections, the outbox and metrics.",
};

/**
 * Each role lands on its own work: a clinician on their patients and orders, compliance on the
 * audit console, an admin on operations. The system panel (database, migrations) is an admin's.
 */
export default async function Home() {
  const user = await currentUser();
  const sections = sectionsFor(user);
  const has = (role: string) => user?.roles.includes(role as never) ?? false;
  return (
    <main id="main" tabIndex={-1} className="page">
      <h1>EMR Event Store</h1>
      {user ? null : (
        <>
          <p className="subtitle">Every change to a record is an immutable event: who, when, why, and what caused it.</p>
          <section className="panel" aria-labelledby="sign-in-cta">
            <h2 id="sign-in-cta">Sign in to use the console</h2>
            <p className="muted">Patient data, audit trails and operations are for signed-in staff only.</p>
            <Link className="button" href="/sign-in">
              Sign in
            </Link>
          </section>
          <HealthPanel />
        </>
      )}
      {user && sections.length === 0 ? (
        <div className="alert warn" role="status">
          Your account has no role yet, so no section is open to you. Ask an admin.
        </div>
      ) : null}
      {has("clinician") ? <ClinicianHome /> : null}
      {has("compliance") ? <ComplianceHome /> : null}
      {has("admin") ? (
        <>
          <AdminHome />
          <HealthPanel />
        </>
      ) : null}
      {sections.length > 1 ? (
        <div className="grid cards">
          {sections.map((s) => (
            <Link key={s.href} className="card" href={s.href}>
              <h3>{s.label}</h3>
              <p>{blurbs[s.href]}</p>
            </Link>
          ))}
        </div>
      ) : null}
    </main>
  );
}
