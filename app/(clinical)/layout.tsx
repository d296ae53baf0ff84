import type { ReactNode } from "react";
import { redirect } from "next/navigation";
import { NotForYourRole } from "@/components/NotForYourRole";
import { currentUser } from "@/server/auth/session";

export const dynamic = "force-dynamic";

// A convenience for people; the procedures these pages call check the role themselves.
export default async function ClinicalLayout({ children }: { children: ReactNode }) {
  const user = await currentUser();
  if (!user) redirect("/sign-in?next=/patients");
  if (!user.roles.includes("clinician")) return <NotForYourRole user={user} needs="clinician" />;
  return children;
}
