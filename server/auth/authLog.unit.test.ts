// Better Auth's own log lines go through the structured log: one JSON line each, no colours, and
// of an error its class and code only, never its message (a driver's message can hold a token).
import { afterAll, expect, it } from "vitest";
import { captureLogLines } from "../testing/logLines";
import { authLog } from ".";

const log = captureLogLines();
afterAll(() => log.restore());

it("writes one JSON line per message, its first line without colours, errors by class and code", () => {
  const driver = Object.assign(new Error("Invalid `prisma.session.findFirst()` invocation: token = 'tok_3f2a9c'"), { name: "PrismaClientKnownRequestError", code: "P1001" });
  authLog("error", "\u001b[31m[Better Auth]\u001b[0m Failed to get session\n    at findFirst (stack)", driver);
  expect(log.lines).toHaveLength(1);
  const line = JSON.parse(log.lines[0]!) as Record<string, unknown>;
  expect(line).toMatchObject({ level: "error", component: "auth", msg: "[Better Auth] Failed to get session", errors: [{ error: "PrismaClientKnownRequestError", code: "P1001" }] });
  expect(log.lines[0]).not.toContain("tok_3f2a9c");
});
