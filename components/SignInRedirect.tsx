"use client";
// Sends a signed-out visitor to sign in, and back to the very page they asked for afterwards.
// In the browser because a section layout cannot know that page: Next.js gives server components
// no request path (layouts are shared by all pages below them). The sign-in page vets `next` (safeNext).
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useEffect } from "react";

export function SignInRedirect() {
  const router = useRouter();
  useEffect(() => {
    router.replace(`/sign-in?next=${encodeURIComponent(window.location.pathname + window.location.search)}`);
  }, [router]);
  return (
    <main id="main" tabIndex={-1} className="page">
      <p className="muted" role="status">
        You are signed out. <Link href="/sign-in">Sign in</Link> to continue.
      </p>
    </main>
  );
}
