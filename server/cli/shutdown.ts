// Stopping a long-running CLI (npm run worker, npm run worker:outbox) on SIGTERM/SIGINT within a
// bounded time. A supervisor (systemd, Kubernetes) waits its whole grace period and then kills
// with SIGKILL when a process does not end by itself; a LISTEN connection left open, a timer, or
// a close handshake with a broker that is gone (amqplib waits for close-ok with no timeout) each
// kept a worker alive after it said "stopped". At-least-once delivery and leases make an exit
// mid-batch safe: whatever was not confirmed is claimed again.

/** How long after SIGTERM/SIGINT the process exits whatever it is still waiting for. */
export const SHUTDOWN_GRACE_MS = 10_000;

/** Each close step gets this long before it is abandoned, so one hung step leaves time for the rest. */
export const CLOSE_STEP_MS = 3_000;

/**
 * Aborts `stop` on SIGTERM/SIGINT and, as a backstop, exits with status 1 if the process is still
 * alive graceMs later. The timer is unref'd: a process that ends by itself is not held up by it.
 */
export function stopOnSignals(stop: AbortController, options: { name: string; graceMs?: number; warn?: (line: string) => void }): void {
  const graceMs = options.graceMs ?? SHUTDOWN_GRACE_MS;
  const warn = options.warn ?? ((line: string) => console.error(line));
  const onSignal = (signal: NodeJS.Signals) => {
    stop.abort();
    setTimeout(() => {
      warn(`${options.name}: still running ${graceMs} ms after ${signal}; exiting without a clean stop`);
      process.exit(1);
    }, graceMs).unref();
  };
  process.once("SIGTERM", onSignal);
  process.once("SIGINT", onSignal);
}

/** Runs one close step, giving up on it (with a warning) after ms; never throws. */
export async function closeWithin(what: string, close: () => Promise<unknown>, warn: (line: string) => void, ms = CLOSE_STEP_MS): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    close().then(
      () => "closed" as const,
      (error: unknown) => (warn(`${what} did not close cleanly: ${(error as Error).message}`), "failed" as const),
    ),
    new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), ms);
    }),
  ]);
  clearTimeout(timer);
  if (outcome === "timeout") warn(`${what} did not close within ${ms} ms; left behind`);
}

/**
 * Runs a long-running CLI's main and exits as soon as it returns (0) or fails (1, with its
 * message): exit now rather than when the last handle goes, so a socket left half-closed or a
 * library's stray timer cannot keep a stopped worker up.
 */
export function runUntilStopped(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error((error as Error).message);
      process.exit(1);
    },
  );
}
