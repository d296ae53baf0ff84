import Link from "next/link";
import { HealthPanel } from "@/components/HealthPanel";
import { TopBar } from "@/components/TopBar";

export const dynamic = "force-dynamic";

export default function Home() {
  return (
    <>
      <TopBar />
      <main className="page">
        <h1>EMR Event Store</h1>
        <p className="subtitle">Every change to a record is an immutable event: who, when, why, and what caused it.</p>
        <HealthPanel />
        <div className="grid cards">
          <Link className="card" href="/patients">
            <h3>Clinical</h3>
            <p>Find and register patients, update demographics, run encounters and orders.</p>
          </Link>
          <Link className="card" href="/audit">
            <h3>Audit</h3>
            <p>Browse the event history, follow a patient&apos;s timeline, see a record as it was.</p>
          </Link>
          <Link className="card" href="/admin">
            <h3>Admin</h3>
            <p>Projections, the outbox, snapshots and metrics.</p>
          </Link>
        </div>
      </main>
    </>
  );
}
