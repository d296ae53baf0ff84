// textArrayLiteral writes what PostgreSQL reads back as the same text[] (checked on PGlite).
import { describe, expect, it } from "vitest";
import { PGlite } from "@electric-sql/pglite";
import { textArrayLiteral } from "./clinicalProjections";

describe("textArrayLiteral", () => {
  it("round-trips quotes, backslashes, control characters, commas, braces, NULL and the word null", async () => {
    const values = [
      "plain", "", " spaced ", 'a "quoted" word', "back\\slash", "\\", '\\"', "line\nbreak", "tab\there", "\u0001", "{braces}", "a,b",
      "null", "NULL", null, "Ñúñez 名前 😀", JSON.stringify({ a: 'x"y', b: "c\\d\ne" }),
    ];
    const db = new PGlite();
    try {
      for (const list of [values, values.filter((v) => v === null || !/[\u0000-\u001f]/.test(v)), [], [null]]) {
        const { rows } = await db.query<{ a: (string | null)[] }>("SELECT $1::text[] AS a", [textArrayLiteral(list)]);
        expect(rows[0]!.a).toEqual(list);
      }
    } finally {
      await db.close();
    }
  });
});
