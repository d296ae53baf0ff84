"use client";
// One submit at a time. A mutation's isPending disables its button only after React renders, so
// a double-click's second click lands first and sends the command again: a second emergency
// access, a second user whose "already exists" replaced the first's one-time link, a second
// rebuild. The ref is set within the click itself.
import { useCallback, useRef } from "react";

/**
 * Returns `run(send)`: calls `send` (a mutation's mutateAsync) unless an earlier one has not
 * settled yet, in which case the call is dropped. The mutation's own state still reports the
 * outcome; the rejection is caught here only so it is not unhandled.
 */
export function useSingleFlight(): (send: () => Promise<unknown>) => void {
  const busy = useRef(false);
  return useCallback((send: () => Promise<unknown>) => {
    if (busy.current) return;
    busy.current = true;
    send()
      .catch(() => undefined)
      .finally(() => {
        busy.current = false;
      });
  }, []);
}
