"use client";
import { useSyncExternalStore } from "react";

const subscribe = () => () => {};

/**
 * False while server-rendering and hydrating, true after: local times and the browser's time
 * zone are only known in the browser, so text that shows them renders once it is there.
 */
export function useHydrated(): boolean {
  return useSyncExternalStore(
    subscribe,
    () => true,
    () => false,
  );
}
