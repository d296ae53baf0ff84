import type { Metadata } from "next";
import { redirect } from "next/navigation";
import { SignInForm } from "@/components/SignInForm";
import { currentUser } from "@/server/auth/session";
import { safeNext } from "@/server/auth/sections";

export const metadata: Metadata = { title: "Sign in" };
export const dynamic = "force-dynamic";

export default async function SignInPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const next = safeNext((await searchParams).next);
  if (await currentUser()) redirect(next);
  return (
    <main id="main" tabIndex={-1} className="page narrow">
      <section className="panel" aria-labelledby="sign-in-title">
        <h1 id="sign-in-title">Sign in</h1>
        <p className="subtitle">Use your email and the password you set with your enrolment link. Forgotten it? Your administrator can send you a new link.</p>
        <SignInForm next={next} />
      </section>
    </main>
  );
}
