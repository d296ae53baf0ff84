// The extract's route (app/api/audit/export) called as Next calls it: the route's handlers, with
// the methods Next fills in for a route that lacks them (a HEAD runs the GET unless the route
// exports its own). A HEAD carries no extract, so it must record none.
import { randomUUID } from "node:crypto";
import { beforeAll, expect, it } from "vitest";
import { autoImplementMethods } from "next/dist/server/route-modules/app-route/helpers/auto-implement-methods";
import { describeEachDatabase } from "../testing/db";
import { callerFor, newPatient } from "../testing/caller";
import { cookieFrom, postRequest, testOrigin, useAsProcessDatabase } from "../testing/http";
import { authFor, createUserWithPassword } from "../auth";
import { PEER_HEADER } from "../auth/clientAddress";
import { recordPeerAddresses } from "../auth/peerAddress";
import * as exportRoute from "@/app/api/audit/export/route";
import * as outboxRoute from "@/app/api/cron/outbox/route";
import * as projectionsRoute from "@/app/api/cron/projections/route";
import { POST as authPost } from "@/app/api/auth/[...all]/route";

recordPeerAddresses();
process.env.BETTER_AUTH_SECRET ??= "test-secret-0123456789-0123456789-abcdef";

type Handlers = Parameters<typeof autoImplementMethods>[0];
/** The route's handler for `method`, as Next picks it. */
const asNext = (route: object, method: "GET" | "HEAD" | "OPTIONS") => autoImplementMethods(route as Handlers)[method] as (r: Request) => Promise<Response> | Response;

describeEachDatabase("GET /api/audit/export, and HEAD", (db) => {
  const email = `export-route-${randomUUID()}@test.invalid`;
  const password = "officer's own phrase";
  let cookie = "";
  let officerId = "";
  let patientId = "";

  beforeAll(async () => {
    useAsProcessDatabase(db());
    officerId = (await createUserWithPassword(authFor(db()), { email, name: "Export Officer", password, roles: ["compliance"] })).id;
    const signIn = await authPost(postRequest("/api/auth/sign-in/email", { email, password }, { [PEER_HEADER]: "10.9.8.6" }));
    expect(signIn.status).toBe(200);
    cookie = cookieFrom(signIn);
    ({ patientId } = await callerFor(db(), ["clinician"]).patient.register(newPatient()));
  });

  const request = (method: string) =>
    new Request(`${testOrigin}/api/audit/export?view=timeline&format=csv&patientId=${patientId}`, { method, headers: { cookie, host: "127.0.0.1:3100" } });
  const recorded = async () => ({
    exports: await db().prisma.auditExport.count({ where: { userId: officerId } }),
    reads: await db().prisma.accessLog.count({ where: { userId: officerId, patientId } }),
  });

  it("records nothing for a HEAD: 405, Allow GET, no extract and no read of the chart", async () => {
    const before = await recorded();
    const head = await asNext(exportRoute, "HEAD")(request("HEAD"));
    expect(head.status).toBe(405);
    expect(head.headers.get("allow")).toBe("GET, OPTIONS");
    expect(head.headers.get("x-audit-export-id")).toBeNull();
    expect(await recorded()).toEqual(before);
    // OPTIONS says what the route answers, HEAD not among it.
    expect((await asNext(exportRoute, "OPTIONS")(request("OPTIONS"))).headers.get("allow")).toBe("GET, OPTIONS");
  });

  it("records the extract a GET hands out, as before", async () => {
    const before = await recorded();
    const get = await asNext(exportRoute, "GET")(request("GET"));
    expect(get.status).toBe(200);
    expect(await get.text()).toContain(patientId);
    const after = await recorded();
    expect(after.exports).toBe(before.exports + 1);
    expect(after.reads).toBeGreaterThan(before.reads);
  });

  it("refuses a HEAD on the cron routes too, whose GET runs a pass", async () => {
    for (const route of [outboxRoute, projectionsRoute]) {
      const head = await asNext(route, "HEAD")(new Request(`${testOrigin}/api/cron/outbox`, { method: "HEAD", headers: { authorization: "Bearer anything" } }));
      expect(head.status).toBe(405);
      expect(head.headers.get("allow")).toBe("GET, OPTIONS, POST");
    }
  });
});
