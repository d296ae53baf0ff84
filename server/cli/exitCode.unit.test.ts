// npm start's exit status when its server child ends.
import { describe, expect, it } from "vitest";
import { launcherExitCode } from "./exitCode";

describe("launcherExitCode", () => {
  it("passes the child's own exit code through", () => {
    expect(launcherExitCode(0, null)).toBe(0);
    expect(launcherExitCode(3, null)).toBe(3);
  });

  it("a child killed by a signal is a failure: 128 + the signal number", () => {
    expect(launcherExitCode(null, "SIGKILL")).toBe(137);
    expect(launcherExitCode(null, "SIGSEGV")).toBe(139);
    expect(launcherExitCode(null, "SIGTERM")).toBe(143);
  });

  it("a child ended by the signal the launcher passed on to stop it is a clean stop", () => {
    expect(launcherExitCode(null, "SIGTERM", new Set(["SIGTERM"]))).toBe(0);
    // ... but not by another one meanwhile.
    expect(launcherExitCode(null, "SIGKILL", new Set(["SIGTERM"]))).toBe(137);
  });
});
