// The process's structured log as lines, for tests that read what an operator's log shipper would.
import { Writable } from "node:stream";
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
