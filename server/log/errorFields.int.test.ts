// A database error as the logs carry it: the client's code and the database's SQLSTATE (what an
// operator greps for), never the message, which can quote a row.
import { expect, it } from "vitest";
import { describeEachDatabase } from "../testing/db";
import { errorFields } from ".";

describeEachDatabase("errorFields", (db) => {
  it("names the SQLSTATE behind Prisma's 'raw query failed', and nothing of the statement or its values", async () => {
    const error = await db()
      .prisma.$queryRawUnsafe("SELECT 1 / (length($1) - length($1)) AS boom", "Penelope Smith")
      .catch((e: unknown) => e);
    const fields = errorFields(error);
    expect(fields).toMatchObject({ code: "P2010", sqlstate: "22012" });
    expect(JSON.stringify(fields)).not.toMatch(/Smith|length|boom/);
  });
});

it("keeps a code that is itself a SQLSTATE once, and an error without one as its name", () => {
  expect(errorFields(Object.assign(new Error("x"), { code: "57014" }))).toEqual({ error: "Error", code: "57014" });
  expect(errorFields(new TypeError("y"))).toEqual({ error: "TypeError" });
});
