// The process's structured log as lines, for tests that read what an operator's log shipper would.
import { Writable } from "node:stream";
import { onTestFinished } from "vitest";
// Renamed: not a React hook, whatever its name says to the linter.
import { useLogDestination as sendLogTo } from "../log";

/** Collects every log line from now until `restore` is called. */
export function captureLogLines(level = "info"): { lines: string[]; restore: () => void } {
  const lines: string[] = [];
  const restore = sendLogTo(
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(...chunk.toString("utf8").split("\n").filter(Boolean));
        done();
      },
    }) as unknown as Parameters<typeof sendLogTo>[0],
    level,
  );
  return { lines, restore };
}

/**
 * The fault lines (`[fault] …`, `[database unavailable] …`: server/api/faults.ts) logged from now
 * until the running test ends, as the JSON text a log shipper reads.
 */
export function captureFaultLines(): { readonly lines: string[] } {
  const captured = captureLogLines("error");
  onTestFinished(captured.restore);
  return {
    get lines() {
      return captured.lines.filter((l) => l.includes('"fault":'));
    },
  };
}
