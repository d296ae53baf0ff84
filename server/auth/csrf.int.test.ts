// CSRF over the real route handlers (app/api/trpc, app/api/auth) with a real session cookie: a
// state-changing request from a page that is not the console's is refused, whatever it carries.
import { randomUUID } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { describeEachDatabase } from "../testing/db";
import { newPatient } from "../testing/caller";
import { cookieFrom, postRequest, testOrigin, useAsProcessDatabase } from "../testing/http";
import { authFor, createUserWithPassword, sessionUserFrom } from ".";
import { crossSiteReason } from "./origin";
import { PEER_HEADER } from "./clientAddress";
import { recordPeerAddresses } from "./peerAddress";

recordPeerAddresses();
import { POST as trpcPost, GET as trpcGet } from "@/app/api/trpc/[trpc]/route";
import { POST as authPost } from "@/app/api/auth/[...all]/route";

process.env.BETTER_AUTH_SECRET ??= "test-secret-0123456789-0123456789-abcdef";

const foreign: [string, Record<string, string | null>][] = [
  ["a foreign Origin", { origin: "http://evil.example" }],
  ["Origin: null", { origin: "null" }],
  ["Origin: null claiming same-origin", { origin: "null", "sec-fetch-site": "same-origin" }],
  ["a same-site page on another host", { origin: "http://intranet.test:3100", "sec-fetch-site": "same-site" }],
  ["a foreign Referer and no Origin", { origin: null, referer: "http://evil.example/form.html" }],
  ["Sec-Fetch-Site: same-site and no Origin", { origin: null, "sec-fetch-site": "same-site" }],
  ["Sec-Fetch-Site: cross-site and no Origin", { origin: null, "sec-fetch-site": "cross-site" }],
  ["nothing that says where it comes from", { origin: null }],
];

describeEachDatabase("CSRF", (db) => {
  const email = `csrf-${randomUUID()}@test.invalid`;
  const password = "correct horse battery";
  let cookie = "";

  beforeAll(async () => {
    useAsProcessDatabase(db());
    await createUserWithPassword(authFor(db()), { email, name: "Csrf Clinician", password, roles: ["clinician"] });
    const signIn = await authPost(postRequest("/api/auth/sign-in/email", { email, password }, { [PEER_HEADER]: "10.9.8.7" }));
    expect(signIn.status).toBe(200);
    cookie = cookieFrom(signIn);
  });

  const register = (headers: Record<string, string | null>) => {
    const patient = newPatient();
    return { patient, response: trpcPost(postRequest("/api/trpc/patient.register", { json: patient }, { cookie, ...headers })) };
  };
  const written = async (mrn: string) => db().prisma.rmPatient.count({ where: { mrn } });

  for (const [name, headers] of foreign) {
    it(`refuses a tRPC mutation with the session cookie and ${name}`, async () => {
      const { patient, response } = register(headers);
      const res = await response;
      expect(res.status).toBe(403);
      const body = (await res.json()) as { error: { json: { message: string; data: { code: string } } } };
      expect(body.error.json.data.code).toBe("FORBIDDEN");
      expect(body.error.json.message).toMatch(/cross-site/);
      expect(await written(patient.mrn)).toBe(0);
    });
  }

  it("accepts the console's own page: its Origin, or its Referer, or same-origin Fetch Metadata", async () => {
    const own: Record<string, string | null>[] = [{}, { origin: null, referer: `${testOrigin}/patients/new` }, { origin: null, "sec-fetch-site": "same-origin" }];
    for (const headers of own) {
      const { patient, response } = register(headers);
      const res = await response;
      expect(res.status).toBe(200);
      expect(await written(patient.mrn)).toBe(1);
    }
  });

  it("leaves reads alone: a GET query is not a change", async () => {
    const res = await trpcGet(
      new Request(`${testOrigin}/api/trpc/system.health`, { headers: { cookie, origin: "http://evil.example", host: "127.0.0.1:3100" } }),
    );
    expect(res.status).toBe(200);
  });

  it("answers a read another site's page made (a sibling subdomain's <img>) as signed out, so no chart read is logged in the user's name", async () => {
    const list = (headers: Record<string, string>) =>
      trpcGet(new Request(`${testOrigin}/api/trpc/patient.list?input=${encodeURIComponent(JSON.stringify({ json: {} }))}`, { headers: { cookie, host: "127.0.0.1:3100", ...headers } }));
    // This user's reads only: the other test files' rows are none of this test's business.
    const logged = async () =>
      Number((await db().sql<{ n: string }>("SELECT count(*) AS n FROM access_log a JOIN auth_users u ON u.id = a.user_id WHERE u.email = $1", [email]))[0]!.n);
    const before = await logged();
    for (const site of ["same-site", "cross-site"]) {
      const res = await list({ "sec-fetch-site": site, "sec-fetch-mode": "no-cors", "sec-fetch-dest": "image" });
      expect(res.status).toBe(401);
    }
    expect(await logged()).toBe(before);
    // The console's own page, and a client without Fetch Metadata, are the user.
    expect((await list({ "sec-fetch-site": "same-origin", "sec-fetch-mode": "cors", "sec-fetch-dest": "empty" })).status).toBe(200);
    expect((await list({})).status).toBe(200);
  });

  it("refuses sign-out and sign-in from a foreign page, and keeps the session", async () => {
    for (const [, headers] of foreign) {
      const out = await authPost(postRequest("/api/auth/sign-out", {}, { cookie, ...headers }));
      expect(out.status).toBe(403);
    }
    expect(await sessionUserFrom(authFor(db()), new Headers({ cookie, host: "127.0.0.1:3100" }))).toMatchObject({ email });
    const signIn = await authPost(postRequest("/api/auth/sign-in/email", { email, password }, { origin: "null", "sec-fetch-site": "same-origin" }));
    expect(signIn.status).toBe(403);
    expect(signIn.headers.getSetCookie()).toEqual([]);
  });
});

describe("crossSiteReason", () => {
  const trusted = (o: string) => o === "https://emr.example.org";
  const req = (method: string, headers: Record<string, string>) => ({ method, headers: new Headers(headers) });

  it("follows the configured origin, not the host or the site", () => {
    expect(crossSiteReason(req("POST", { origin: "https://emr.example.org", "sec-fetch-site": "same-origin" }), trusted)).toBeNull();
    expect(crossSiteReason(req("POST", { origin: "https://blog.example.org", "sec-fetch-site": "same-site", cookie: "x=1" }), trusted)).toMatch(
      /blog\.example\.org/,
    );
    expect(crossSiteReason(req("POST", { origin: "https://emr.example.org.evil.test" }), trusted)).not.toBeNull();
    expect(crossSiteReason(req("POST", { origin: "not a url" }), trusted)).not.toBeNull();
    expect(crossSiteReason(req("POST", { referer: "https://emr.example.org/patients" }), trusted)).toBeNull();
    expect(crossSiteReason(req("POST", { referer: "::::" }), trusted)).not.toBeNull();
  });

  it("leaves safe methods and cookie-less non-browser clients alone", () => {
    expect(crossSiteReason(req("GET", { origin: "https://evil.example", cookie: "x=1" }), trusted)).toBeNull();
    expect(crossSiteReason(req("POST", {}), trusted)).toBeNull();
    expect(crossSiteReason(req("POST", { cookie: "emr.session_token=x" }), trusted)).not.toBeNull();
  });
});
