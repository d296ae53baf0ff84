"use client";
// The session ended while a page was open (expired, revoked, or signed out in another tab): the
// next request is refused as UNAUTHORIZED. Sending the user to the sign-in page would unload this
// one and lose whatever they had typed (a discharge note, a result), so they sign in again over it
// instead. Nothing is re-sent for them: once signed in, they send what they typed themselves.
import Link from "next/link";
import { usePathname, useRouter } from "next/navigation";
import { useEffect, useRef } from "react";
import { SignInForm } from "./SignInForm";

/** Pages a signed-out visitor is meant to be on: no dialog over them. */
const publicPages = ["/sign-in", "/enrol"];

export function SessionEnded({ open, email, onSignedIn }: { open: boolean; email?: string; onSignedIn: (userId: string) => void }) {
  const router = useRouter();
  const pathname = usePathname();
  const ref = useRef<HTMLDialogElement>(null);
  const show = open && !publicPages.some((p) => pathname === p || pathname.startsWith(`${p}/`));
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (show && !dialog.open) dialog.showModal();
    if (!show && dialog.open) dialog.close();
  }, [show]);
  const next = pathname;
  return (
    <dialog
      ref={ref}
      className="glass"
      aria-labelledby="session-ended-title"
      data-testid="session-ended"
      // Escape would leave the page under a modal-less, sessionless state with no way to sign in.
      onCancel={(event) => event.preventDefault()}
    >
      {show ? (
        <div className="stack">
          <h2 id="session-ended-title">Your session has ended</h2>
          <p>Sign in again to carry on. This page stays as it is: what you typed is kept, and nothing is sent until you send it again.</p>
          <SignInForm
            idPrefix="session-"
            email={email}
            onSignedIn={(userId) => {
              onSignedIn(userId);
              // The top bar (who is signed in, their sections) is rendered by the server.
              router.refresh();
            }}
          />
          <p className="small muted">
            Or <Link href={`/sign-in?next=${encodeURIComponent(next)}`}>go to the sign-in page</Link> (what you typed on this page is lost).
          </p>
        </div>
      ) : null}
    </dialog>
  );
}
