"use client";
import { useRouter } from "next/navigation";
import { useState, type FormEvent } from "react";
import { authClient } from "./authClient";
import { waitMessage } from "./format";

/** One message for every wrong email or password: the form never says which one was wrong. */
const messages = {
  invalid: "Email or password is incorrect.",
  rateLimited: "Too many failed sign-ins. Wait a minute, then try again.",
  failed: "Sign-in did not work. Try again in a moment.",
  unavailable: "The database is unavailable; try again in a moment.",
  readOnly: "The database is read-only for now (a failover or maintenance), and signing in is recorded; try again in a few minutes.",
  diskFull: "The database is out of disk space, and signing in is recorded; try again later.",
} as const;

/**
 * `next`: the page to go to once signed in. `onSignedIn` instead: stay on this page (signing in
 * again over a page whose session ended, SessionEnded.tsx). `idPrefix` keeps its field ids apart
 * from those of a form on the same page.
 */
export function SignInForm({ next, onSignedIn, idPrefix = "", email }: { next?: string; onSignedIn?: (userId: string) => void; idPrefix?: string; email?: string }) {
  const router = useRouter();
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<keyof typeof messages | null>(null);
  const [retryAfter, setRetryAfter] = useState<unknown>(null);

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setPending(true);
    setError(null);
    try {
      const { data, error: failure } = await authClient.signIn.email({
        email: String(form.get("email") ?? ""),
        password: String(form.get("password") ?? ""),
      });
      if (failure) {
        setRetryAfter((failure as { retryAfterSeconds?: unknown }).retryAfterSeconds);
        setError(
          failure.status === 429 ? "rateLimited" : failure.status === 401 || failure.status === 400 ? "invalid" : failure.status === 503 ? (failure.code === "DATABASE_READ_ONLY" ? "readOnly" : failure.code === "DATABASE_DISK_FULL" ? "diskFull" : "unavailable") : "failed",
        );
        setPending(false);
        return;
      }
      if (onSignedIn) {
        setPending(false);
        onSignedIn(data.user.id);
        return;
      }
      router.replace(next ?? "/");
      router.refresh();
    } catch {
      setError("failed");
      setPending(false);
    }
  }

  return (
    <form className="stack" onSubmit={onSubmit} aria-describedby={error ? `${idPrefix}sign-in-error` : undefined} noValidate={false}>
      {error ? (
        <div className={`alert ${error === "rateLimited" ? "warn" : "error"}`} role="alert" id={`${idPrefix}sign-in-error`}>
          {error === "rateLimited" ? (waitMessage(retryAfter, "Too many failed sign-ins.") ?? messages.rateLimited) : messages[error]}
        </div>
      ) : null}
      <div className="field">
        <label htmlFor={`${idPrefix}email`}>Email</label>
        <input id={`${idPrefix}email`} name="email" type="email" autoComplete="username" required maxLength={254} defaultValue={email} autoFocus={!email} />
      </div>
      <div className="field">
        <label htmlFor={`${idPrefix}password`}>Password</label>
        <input id={`${idPrefix}password`} name="password" type="password" autoComplete="current-password" required maxLength={128} autoFocus={Boolean(email)} />
      </div>
      <div className="actions">
        <button type="submit" disabled={pending} aria-busy={pending}>
          {pending ? "Signing in…" : "Sign in"}
        </button>
      </div>
    </form>
  );
}
