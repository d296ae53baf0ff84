import type { Metadata } from "next";
import { UsersAdmin } from "@/components/admin/UsersAdmin";
import { currentUser } from "@/server/auth/session";

export const metadata: Metadata = { title: "Admin" };

export default async function AdminPage() {
  const user = await currentUser();
  return (
    <main className="page">
      <h1>Admin</h1>
      <p className="subtitle">Users and their roles. A user may hold several roles; a change applies on their next request.</p>
      <UsersAdmin currentUserId={user?.id ?? ""} />
    </main>
  );
}
