"use client";
// The enrolment page's form. The token is read from the URL's fragment (#...), which browsers
// never send to a server nor put in a Referer, then taken out of the address bar; it goes to the
// server only in the body of the two POSTs below.
import { useMutation } from "@tanstack/react-query";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useEffect, useRef, useState, type FormEvent } from "react";
import { authClient } from "./authClient";
import { DateTime } from "./DateTime";
import { useTRPC } from "./trpc";

const MIN = 10;
const MAX = 128;

const refusals = {
  expired: { title: "This link has expired", body: "Enrolment links work for a limited time. Ask your administrator for a new one." },
  used: { title: "This link has already been used", body: "Each link sets a password once. If that was you, sign in; if it was not, tell your administrator now." },
  unknown: {
    title: "This link is not valid",
    body: "It may have been copied incompletely, or replaced by a newer link. Ask your administrator for a new one.",
  },
} as const;

export function EnrolForm() {
  const trpc = useTRPC();
  const router = useRouter();
  // A ref, not state: read once after hydration (the server never sees the fragment).
  const token = useRef("");
  const lookup = useMutation(trpc.enrolment.lookup.mutationOptions());
  const complete = useMutation(trpc.enrolment.complete.mutationOptions());
  const [mismatch, setMismatch] = useState(false);
  const [signInFailed, setSignInFailed] = useState(false);
  const [signingIn, setSigningIn] = useState(false);
  const { mutate: look } = lookup;

  const { reset: resetComplete } = complete;
  useEffect(() => {
    const read = () => {
      const value = decodeURIComponent(window.location.hash.replace(/^#/, "")).trim();
      // Out of the address bar (and this history entry) once read.
      if (window.location.hash) window.history.replaceState(null, "", window.location.pathname);
      token.current = value;
      resetComplete();
      // An empty one is asked about too: the answer ("not valid") comes from one place.
      look({ token: value });
    };
    read();
    // Another link pasted into this tab changes only the fragment: no new page load.
    window.addEventListener("hashchange", read);
    return () => window.removeEventListener("hashchange", read);
  }, [look, resetComplete]);

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const password = String(form.get("password") ?? "");
    if (password !== String(form.get("confirm") ?? "")) {
      setMismatch(true);
      return;
    }
    setMismatch(false);
    const result = await complete.mutateAsync({ token: token.current, password }).catch(() => null);
    if (result?.status !== "enrolled") return;
    setSigningIn(true);
    const { error } = await authClient.signIn.email({ email: result.email, password }).catch(() => ({ error: true }));
    if (error) {
      setSignInFailed(true);
      setSigningIn(false);
      return;
    }
    router.replace("/");
    router.refresh();
  }

  if (lookup.isIdle || lookup.isPending) return <p className="muted">Checking your link…</p>;
  if (lookup.isError) {
    return (
      <div className="alert error" role="alert">
        {lookup.error.data?.code === "TOO_MANY_REQUESTS" ? lookup.error.message : "Your link could not be checked. Try again in a moment."}
      </div>
    );
  }
  const state = lookup.data;
  if (!state) return null;
  if (state.status !== "valid") return <Refusal kind={state.status} />;
  const done = complete.data;
  if (done && done.status !== "enrolled") return <Refusal kind={done.status} />;
  if (done?.status === "enrolled" && signInFailed) {
    return (
      <div className="stack">
        <div className="alert ok" role="status">
          Your password is set.
        </div>
        <p>
          <Link href="/sign-in">Sign in</Link> with {done.email} and your new password.
        </p>
      </div>
    );
  }

  return (
    <form className="stack" onSubmit={onSubmit}>
      <p className="subtitle">
        For <strong>{state.name}</strong> ({state.email}). Choose a password only you know: nobody else, your administrator included,
        ever sees it. This link works once, until <DateTime value={state.expiresAt} />.
      </p>
      {complete.isError ? (
        <div className="alert error" role="alert">
          {complete.error.data?.code === "TOO_MANY_REQUESTS" ? complete.error.message : complete.error.data?.code === "BAD_REQUEST" ? `The password must be ${MIN} to ${MAX} characters.` : "Your password could not be set. Try again in a moment."}
        </div>
      ) : null}
      {mismatch ? (
        <div className="alert error" role="alert">
          The two passwords differ.
        </div>
      ) : null}
      {/* The email, for the browser's password manager to store the new password under. */}
      <input type="email" name="username" autoComplete="username" value={state.email} readOnly hidden />
      <div className="field">
        <label htmlFor="new-password">New password</label>
        <input id="new-password" name="password" type="password" autoComplete="new-password" required minLength={MIN} maxLength={MAX} autoFocus />
        <span className="hint">
          {MIN} to {MAX} characters. A few unrelated words are easy to remember and hard to guess.
        </span>
      </div>
      <div className="field">
        <label htmlFor="confirm-password">Repeat the password</label>
        <input id="confirm-password" name="confirm" type="password" autoComplete="new-password" required minLength={MIN} maxLength={MAX} />
      </div>
      <div className="actions">
        <button type="submit" disabled={complete.isPending || signingIn} aria-busy={complete.isPending || signingIn}>
          {complete.isPending ? "Setting your password…" : signingIn ? "Signing in…" : "Set password and sign in"}
        </button>
      </div>
    </form>
  );
}

function Refusal({ kind }: { kind: keyof typeof refusals }) {
  const { title, body } = refusals[kind];
  return (
    <div className="stack" data-testid={`enrolment-${kind}`}>
      <div className="alert warn" role="alert">
        <strong>{title}.</strong> {body}
      </div>
      <p>
        <Link href="/sign-in">Go to sign-in</Link>
      </p>
    </div>
  );
}
