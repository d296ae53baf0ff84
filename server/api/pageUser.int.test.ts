// A console page names the user it was rendered for; the session cookie is shared by the browser's
// tabs. After someone else signed in in another tab, the first tab's commands must not be recorded
// as theirs: refused as UNAUTHORIZED, so the page asks its own user to sign in again.
import { expect, it } from "vitest";
import { describeEachDatabase } from "../testing/db";
import { codeOf, contextFor, testUser } from "../testing/caller";
import { createCaller } from "./root";
import { PAGE_USER_HEADER } from "../../shared/pageUser";

describeEachDatabase("a page rendered for another user", (db) => {
  const nurse = testUser(["clinician"]);

  it("is refused when the session is now someone else's", async () => {
    const caller = createCaller(contextFor(db(), nurse, { [PAGE_USER_HEADER]: "user-who-opened-the-page" }));
    expect(await codeOf(caller.patient.list({ limit: 1 }))).toBe("UNAUTHORIZED");
  });

  it("is answered when the session is the page's user's, or when no page names one (scripts, tests)", async () => {
    expect(await codeOf(createCaller(contextFor(db(), nurse, { [PAGE_USER_HEADER]: nurse.id })).patient.list({ limit: 1 }))).toBe("OK");
    expect(await codeOf(createCaller(contextFor(db(), nurse)).patient.list({ limit: 1 }))).toBe("OK");
  });
});
