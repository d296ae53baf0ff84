import type { Metadata } from "next";
import { AdminNav } from "@/components/admin/AdminNav";
import Link from "next/link";
import { OutboxPanel } from "@/components/admin/OutboxPanel";
import { SnapshotsPanel } from "@/components/admin/SnapshotsPanel";
import { HealthPanel } from "@/components/HealthPanel";
import { UsersAdmin } from "@/components/admin/UsersAdmin";
import { currentUser } from "@/server/auth/session";

export const metadata: Metadata = { title: "Admin" };

export default async function AdminPage() {
  const user = await currentUser();
  return (
    <main id="main" tabIndex={-1} className="page">
      <AdminNav />
      <h1>Admin</h1>
      <p className="subtitle">The system and its migrations, users and their roles, the outbox that carries events to their consumers, and the snapshots that speed up loads.</p>
      <p>
        <Link href="/admin/projections">Projections and rebuilds</Link>
      </p>
      <HealthPanel />
      <UsersAdmin currentUserId={user?.id ?? ""} />
      <OutboxPanel />
      <SnapshotsPanel />
    </main>
  );
}
