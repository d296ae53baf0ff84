"use client";
import { useQuery } from "@tanstack/react-query";
import { authClient } from "@/components/authClient";

/** The signed-in user's id and name, so history can say "you" instead of an opaque user id. */
export function useSignedInUser(): { id: string; name: string } | null {
  const session = useQuery({
    queryKey: ["auth", "session"],
    queryFn: async () => {
      const { data } = await authClient.getSession();
      return data ? { id: data.user.id, name: data.user.name } : null;
    },
    staleTime: 5 * 60_000,
  });
  return session.data ?? null;
}
