"use client";
import { useRouter } from "next/navigation";
import { useState } from "react";
import { authClient } from "./authClient";
import { confirmLeaving } from "./forms/leaveGuard";

export function SignOutButton() {
  const router = useRouter();
  const [pending, setPending] = useState(false);
  return (
    <button
      type="button"
      className="secondary small"
      disabled={pending}
      onClick={async () => {
        // Half-filled forms on this page would be lost: ask first, as a link away does.
        if (!confirmLeaving()) return;
        setPending(true);
        await authClient.signOut().catch(() => undefined);
        router.replace("/sign-in");
        router.refresh();
      }}
    >
      {pending ? "Signing out…" : "Sign out"}
    </button>
  );
}
