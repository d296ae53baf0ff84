// The session cookie cache over the real route handlers (app/api/auth, app/api/trpc), as the
// browser calls them: a sign-out or a role change made in this process takes effect on the next
// request; one made by another server process (here: written straight into the database, which
// is all this process sees of it) within SESSION_CACHE_SECONDS.
import { randomUUID } from "node:crypto";
import { beforeAll, expect, it, vi } from "vitest";
import { describeEachDatabase } from "../testing/db";
import { cookieFrom, postRequest, testOrigin, useAsProcessDatabase, withoutSessionCache } from "../testing/http";
import { setUserRoles } from "../api/userAccounts";
import { authFor, createUserWithPassword } from ".";
import { SESSION_CACHE_SECONDS } from "./sessionCache";
import { PEER_HEADER } from "./clientAddress";
import { recordPeerAddresses } from "./peerAddress";
import { GET as trpcGet } from "@/app/api/trpc/[trpc]/route";
import { POST as authPost } from "@/app/api/auth/[...all]/route";

recordPeerAddresses();
process.env.BETTER_AUTH_SECRET ??= "test-secret-0123456789-0123456789-abcdef";

const get = (path: string, cookie: string) => trpcGet(new Request(`${testOrigin}${path}`, { headers: { cookie, host: "127.0.0.1:3100" } }));
/** Signed in: system.health tells a signed-in caller where the data lives, anyone else only "up". */
const signedIn = async (cookie: string) => {
  const body = (await (await get("/api/trpc/system.health", cookie)).json()) as { result: { data: { json: { details?: unknown } } } };
  return body.result.data.json.details !== undefined;
};
/** A clinician's read: 200 with the role, 403 without it. */
const clinicianRead = async (cookie: string) =>
  (await get(`/api/trpc/patient.list?input=${encodeURIComponent(JSON.stringify({ json: {} }))}`, cookie)).status;

/** Polls until `done`, returning the milliseconds it took; fails after the cache's lifetime and a margin. */
async function within(limitMs: number, done: () => Promise<boolean>): Promise<number> {
  const start = Date.now();
  while (!(await done())) {
    if (Date.now() - start > limitMs) throw new Error(`still not in effect after ${limitMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return Date.now() - start;
}

const lifetimeMs = SESSION_CACHE_SECONDS * 1000;
// Scheduling on a loaded test machine; the cache itself expires at SESSION_CACHE_SECONDS.
const marginMs = 1500;

describeEachDatabase("session cookie cache", (db) => {
  const password = "correct horse battery";
  const newUser = async (roles: ("clinician" | "compliance")[]) => {
    const email = `cache-${randomUUID()}@test.invalid`;
    const { id } = await createUserWithPassword(authFor(db()), { email, name: "Cache Clinician", password, roles });
    const res = await authPost(postRequest("/api/auth/sign-in/email", { email, password }, { [PEER_HEADER]: `10.7.${Math.floor(Math.random() * 250)}.9` }));
    expect(res.status).toBe(200);
    const cookie = cookieFrom(res);
    expect(cookie).toMatch(/emr\.session_data=/);
    return { id, cookie };
  };

  beforeAll(() => {
    useAsProcessDatabase(db());
  });

  it("parallel requests whose cache cookie has expired share one session look-up, and each is answered with the refreshed cookie", async () => {
    const { cookie } = await newUser(["clinician"]);
    const expired = withoutSessionCache(cookie);
    const auth = authFor(db());
    const lookups = vi.spyOn(auth.api, "getSession");
    try {
      const answers = await Promise.all(Array.from({ length: 6 }, () => get("/api/trpc/system.health", expired)));
      for (const res of answers) {
        expect(res.status).toBe(200);
        expect(cookieFrom(res)).toMatch(/emr\.session_data=/);
        const body = (await res.json()) as { result: { data: { json: { details?: unknown } } } };
        expect(body.result.data.json.details).toBeDefined();
      }
      expect(lookups).toHaveBeenCalledTimes(1);
      // Later requests with the same cookies look up again: nothing is kept once the look-up is done.
      expect(await signedIn(expired)).toBe(true);
      expect(lookups).toHaveBeenCalledTimes(2);
    } finally {
      lookups.mockRestore();
    }
  });

  it("a request sharing a look-up still sees a sign-out made here meanwhile", async () => {
    const { cookie } = await newUser(["clinician"]);
    const expired = withoutSessionCache(cookie);
    const auth = authFor(db());
    const original = auth.api.getSession.bind(auth.api);
    let release: () => void = () => {};
    const held = new Promise<void>((r) => (release = r));
    // The first look-up is held until the sign-out below has happened.
    const lookups = vi.spyOn(auth.api, "getSession").mockImplementationOnce((async (...args: Parameters<typeof original>) => {
      const result = await original(...args);
      await held;
      return result;
    }) as typeof original);
    try {
      const leader = get("/api/trpc/system.health", expired);
      await new Promise((r) => setTimeout(r, 50));
      const follower = get("/api/trpc/system.health", expired);
      const out = await authPost(postRequest("/api/auth/sign-out", {}, { cookie }));
      expect(out.status).toBe(200);
      release();
      const body = async (res: Response) => ((await res.json()) as { result: { data: { json: { details?: unknown } } } }).result.data.json.details;
      expect(await body(await follower)).toBeUndefined();
      await leader;
    } finally {
      lookups.mockRestore();
    }
  });

  it("a sign-out ends the session at once, for any copy of its cookie", async () => {
    const { cookie } = await newUser(["clinician"]);
    expect(await signedIn(cookie)).toBe(true);
    const out = await authPost(postRequest("/api/auth/sign-out", {}, { cookie }));
    expect(out.status).toBe(200);
    // A copy of the cookies taken before the sign-out, cache included.
    expect(await signedIn(cookie)).toBe(false);
  });

  it(`a session ended by another server process stops working within ${SESSION_CACHE_SECONDS} s`, async () => {
    const { id, cookie } = await newUser(["clinician"]);
    expect(await signedIn(cookie)).toBe(true);
    await db().prisma.session.deleteMany({ where: { userId: id } });
    const tookMs = await within(lifetimeMs + marginMs, async () => !(await signedIn(cookie)));
    expect(tookMs).toBeLessThanOrEqual(lifetimeMs + marginMs);
  });

  it("a role change made here (users.setRoles) takes effect on the next request", async () => {
    const { id, cookie } = await newUser(["clinician"]);
    expect(await clinicianRead(cookie)).toBe(200);
    await setUserRoles(db(), { userId: "admin-test", correlationId: randomUUID() }, { userId: id, roles: ["compliance"], reason: "moved to compliance" });
    expect(await clinicianRead(cookie)).toBe(403);
  });

  it("a cache cookie changed by the client is verified again, never answered from an earlier verification", async () => {
    const { cookie } = await newUser(["compliance"]);
    // The first request verifies these cookies; the next ones are answered from that verification.
    expect(await clinicianRead(cookie)).toBe(403);
    expect(await clinicianRead(cookie)).toBe(403);
    // The same cookies with the cached copy's roles rewritten (its signature now fails).
    const forged = cookie.replace(/emr\.session_data=([^;]+)/, (_, value: string) => {
      const payload = JSON.parse(Buffer.from(decodeURIComponent(value), "base64url").toString("utf8")) as { session: { user: { roles: string[] } } };
      payload.session.user.roles = ["clinician"];
      return `emr.session_data=${Buffer.from(JSON.stringify(payload)).toString("base64url")}`;
    });
    expect(forged).not.toBe(cookie);
    expect(await clinicianRead(forged)).toBe(403);
  });

  it(`a role change made by another server process takes effect within ${SESSION_CACHE_SECONDS} s`, async () => {
    const { id, cookie } = await newUser(["clinician"]);
    expect(await clinicianRead(cookie)).toBe(200);
    await db().prisma.user.update({ where: { id }, data: { roles: ["compliance"] } });
    const tookMs = await within(lifetimeMs + marginMs, async () => (await clinicianRead(cookie)) === 403);
    expect(tookMs).toBeLessThanOrEqual(lifetimeMs + marginMs);
  });
});
