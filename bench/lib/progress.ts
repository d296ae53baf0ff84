// The progress line: one line rewritten in place (\r) on a terminal, plain lines otherwise.
// It goes to stderr so stdout carries only the table.

export type Progress = {
  /** The current step; replaces the line on a terminal, prints a line otherwise. */
  step(text: string): void;
  /** A line that stays (a warning, a skipped workload). */
  note(text: string): void;
  done(): void;
};

export function createProgress(stream: NodeJS.WriteStream = process.stderr, quiet = false): Progress {
  const tty = Boolean(stream.isTTY);
  const started = performance.now();
  let current = "";
  const stamp = () => `[${((performance.now() - started) / 1000).toFixed(0).padStart(3)} s]`;
  const clear = () => stream.write("\r\x1b[2K");
  return {
    step(text) {
      current = `${stamp()} ${text}`;
      if (quiet) return;
      if (tty) {
        clear();
        stream.write(current.slice(0, Math.max(20, (stream.columns ?? 120) - 1)));
      } else {
        stream.write(`${current}\n`);
      }
    },
    note(text) {
      if (tty) {
        clear();
        stream.write(`${text}\n${current}`);
      } else {
        stream.write(`${text}\n`);
      }
    },
    done() {
      if (tty && !quiet) clear();
    },
  };
}
