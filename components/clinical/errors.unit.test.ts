import { describe, expect, it } from "vitest";
import { formKeyOfPath } from "./demographics";
import { errorAt, fieldErrorsBy, friendlyMessage, readError } from "./errors";

/** A BAD_REQUEST as server/api/trpc.ts's errorFormatter sends it for a zod input error. */
const badRequest = (issues: { path: string; message: string }[]) => ({
  message: "✖ multi-line zod report\n  → at somewhere",
  data: { code: "BAD_REQUEST", zodError: { formErrors: [], fieldErrors: {} }, issues, domain: null },
});

describe("readError", () => {
  it("keys field errors by the full dotted path of each issue, first message per path", () => {
    const e = readError(
      badRequest([
        { path: "changes.email", message: "Invalid email" },
        { path: "address.country", message: "Two letters" },
        { path: "address.country", message: "Second problem" },
      ]),
    );
    expect(e.fieldErrors).toEqual({ "changes.email": "Invalid email", "address.country": "Two letters" });
    expect(friendlyMessage(e)).toBe("Some fields need attention.");
  });

  it("does not read paths out of the message text", () => {
    const e = readError({ message: "✖ Invalid email\n  → at changes.email", data: { code: "BAD_REQUEST", issues: null, domain: null } });
    expect(e.fieldErrors).toEqual({});
  });

  it("says an issue about the input as a whole in one line instead of zod's report", () => {
    const e = readError(badRequest([{ path: "", message: "Expected an object" }]));
    expect(e.fieldErrors).toEqual({});
    expect(friendlyMessage(e)).toBe("Expected an object");
  });

  it("puts a domain validation error on its field, without the field's name", () => {
    const e = readError({
      message: "details.description: Too long",
      data: { code: "BAD_REQUEST", issues: null, domain: { kind: "validation", field: "details.description" } },
    });
    expect(e.fieldErrors).toEqual({ "details.description": "Too long" });
  });

  it("maps paths to form keys, and finds errors nested under a path", () => {
    const e = readError(badRequest([{ path: "address.postalCode", message: "Required" }, { path: "resultData.Hb.unit", message: "Too long" }]));
    expect(fieldErrorsBy(e, formKeyOfPath)).toEqual({ postalCode: "Required", resultData: "Too long" });
    expect(errorAt(e, "resultData")).toBe("Too long");
    expect(errorAt(e, "reason")).toBeUndefined();
  });

  it("keeps the reference of a server fault, and nothing else of it", () => {
    const e = readError({ message: "Something went wrong on the server.", data: { code: "INTERNAL_SERVER_ERROR", correlationId: "req-42" } });
    expect(friendlyMessage(e)).toBe("The server could not complete this. Try again in a moment. If it persists, give support this reference: req-42");
  });
});
