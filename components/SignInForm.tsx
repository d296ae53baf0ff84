"use client";
import { useRouter } from "next/navigation";
import { useState, type FormEvent } from "react";
import { authClient } from "./authClient";

/** One message for every wrong email or password: the form never says which one was wrong. */
const messages = {
  invalid: "Email or password is incorrect.",
  rateLimited: "Too many sign-in attempts. Wait a minute, then try again.",
  failed: "Sign-in did not work. Try again in a moment.",
  unavailable: "The database is unavailable; try again in a moment.",
} as const;

export function SignInForm({ next }: { next: string }) {
  const router = useRouter();
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<keyof typeof messages | null>(null);

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    setPending(true);
    setError(null);
    try {
      const { error: failure } = await authClient.signIn.email({
        email: String(form.get("email") ?? ""),
        password: String(form.get("password") ?? ""),
      });
      if (failure) {
        setError(
          failure.status === 429 ? "rateLimited" : failure.status === 401 || failure.status === 400 ? "invalid" : failure.status === 503 ? "unavailable" : "failed",
        );
        setPending(false);
        return;
      }
      router.replace(next);
      router.refresh();
    } catch {
      setError("failed");
      setPending(false);
    }
  }

  return (
    <form className="stack" onSubmit={onSubmit} aria-describedby={error ? "sign-in-error" : undefined} noValidate={false}>
      {error ? (
        <div className={`alert ${error === "rateLimited" ? "warn" : "error"}`} role="alert" id="sign-in-error">
          {messages[error]}
        </div>
      ) : null}
      <div className="field">
        <label htmlFor="email">Email</label>
        <input id="email" name="email" type="email" autoComplete="username" required maxLength={254} autoFocus />
      </div>
      <div className="field">
        <label htmlFor="password">Password</label>
        <input id="password" name="password" type="password" autoComplete="current-password" required maxLength={128} />
      </div>
      <div className="actions">
        <button type="submit" disabled={pending} aria-busy={pending}>
          {pending ? "Signing in…" : "Sign in"}
        </button>
      </div>
    </form>
  );
}
