// The exit status of a launcher (npm start) whose child ended: the child's own code, or for a
// death by signal the shell's 128 + signal number. A signal death is a crash or a kill (OOM
// killer, kill -9) that a supervisor (systemd Restart=on-failure, Docker restart: on-failure)
// must see as a failure, unless it is the very signal the launcher passed on to stop the child.
import { constants } from "node:os";

export function launcherExitCode(code: number | null, signal: NodeJS.Signals | null, forwarded: ReadonlySet<NodeJS.Signals> = new Set()): number {
  if (code !== null) return code;
  if (signal === null) return 1;
  if (forwarded.has(signal)) return 0;
  return 128 + (constants.signals[signal] ?? 0);
}
