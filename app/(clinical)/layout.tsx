import type { ReactNode } from "react";
import { NotForYourRole } from "@/components/NotForYourRole";
import { SignInRedirect } from "@/components/SignInRedirect";
import { currentUser } from "@/server/auth/session";

export const dynamic = "force-dynamic";

// A convenience for people; the procedures these pages call check the role themselves.
// Signed out: nothing of the section renders; the browser goes to sign-in with the page it asked for.
export default async function ClinicalLayout({ children }: { children: ReactNode }) {
  const user = await currentUser();
  if (!user) return <SignInRedirect />;
  if (!user.roles.includes("clinician")) return <NotForYourRole user={user} needs="clinician" />;
  return children;
}
