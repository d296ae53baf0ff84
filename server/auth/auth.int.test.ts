// Sign-in through better-auth's own HTTP handler, as the browser does it, on both databases.
import { randomUUID } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { describeEachDatabase } from "../testing/db";
import { parseEnv } from "../db/env";
import { createContext } from "../api/context";
import { createAuth, createUserWithPassword, handleAuthRequest, MAX_AUTH_BODY_BYTES, sessionUserFrom, type Auth } from ".";
import { DEMO_PASSWORD, demoUsers, seedDemoUsers } from "./demoUsers";
import { shouldSeedDemoUsers } from "./config";
import { PEER_HEADER } from "./clientAddress";
import { recordPeerAddresses } from "./peerAddress";

// As the server process does at start-up: requests carry their socket's address in PEER_HEADER.
recordPeerAddresses();

const origin = "http://127.0.0.1:3100";
const testConfig = { secret: "test-secret-0123456789-0123456789-abcdef", baseURL: null, signInPerMinute: 5 };
// The process-wide auth (createContext without a user) reads the secret from the environment.
process.env.BETTER_AUTH_SECRET = testConfig.secret;

/** A distinct client (socket) address per test, so rate-limit buckets do not leak between tests. */
const clientIp = () => `10.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250) + 1}`;

function post(auth: Auth, path: string, body: unknown, headers: Record<string, string> = {}) {
  return handleAuthRequest(
    auth,
    new Request(`${origin}/api/auth${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", origin, host: "127.0.0.1:3100", ...headers },
      body: JSON.stringify(body),
    }),
  );
}

/** The cookie header a browser would send back after this response. */
function cookieFrom(response: Response): string {
  return response.headers
    .getSetCookie()
    .map((c) => c.split(";")[0])
    .join("; ");
}

describeEachDatabase("sign-in", (db) => {
  let auth: Auth;
  const email = `nurse-${randomUUID()}@test.invalid`;
  const password = "correct horse battery";

  beforeAll(async () => {
    auth = createAuth(db(), testConfig);
    await createUserWithPassword(auth, { email, name: "Nurse Test", password, roles: ["clinician", "compliance"] });
  });

  it("stores only the library's password hash", async () => {
    const account = await db().prisma.account.findFirst({
      where: { user: { email } },
      select: { password: true, providerId: true },
    });
    expect(account?.providerId).toBe("credential");
    expect(account?.password).toBeTruthy();
    expect(account?.password).not.toContain(password);
  });

  it("signs in with email and password, and the session carries the user's roles into tRPC", async () => {
    const ip = clientIp();
    const response = await post(auth, "/sign-in/email", { email, password }, { [PEER_HEADER]: ip });
    expect(response.status).toBe(200);
    const setCookie = response.headers.getSetCookie().join("\n");
    expect(setCookie).toMatch(/emr\.session_token=/);
    expect(setCookie).toMatch(/HttpOnly/i);
    expect(setCookie).toMatch(/SameSite=Lax/i);
    // The token is the HttpOnly cookie's alone: the answer's body does not hand it to page script.
    const answer = (await response.json()) as Record<string, unknown>;
    expect(answer).toMatchObject({ user: { email } });
    expect(answer).not.toHaveProperty("token");

    const headers = new Headers({ cookie: cookieFrom(response), host: "127.0.0.1:3100" });
    // Nor does the session's own endpoint.
    const current = await handleAuthRequest(auth, new Request(`${origin}/api/auth/get-session`, { headers: { cookie: headers.get("cookie")!, host: "127.0.0.1:3100", [PEER_HEADER]: ip } }));
    expect(current.status).toBe(200);
    const session = (await current.json()) as { user: unknown; session: Record<string, unknown> };
    expect(session).toMatchObject({ user: { email }, session: { userId: expect.any(String) } });
    expect(session.session).not.toHaveProperty("token");

    const user = await sessionUserFrom(auth, headers);
    expect(user).toMatchObject({ email, name: "Nurse Test" });
    expect(user?.roles.sort()).toEqual(["clinician", "compliance"]);

    // A cross-site request carrying the same cookie is nobody.
    const crossSite = new Headers(headers);
    crossSite.set("sec-fetch-site", "cross-site");
    expect(await sessionUserFrom(auth, crossSite)).toBeNull();

    // Sign-out ends the session in the database, not only in the browser.
    const out = await post(auth, "/sign-out", {}, { cookie: headers.get("cookie") ?? "", [PEER_HEADER]: ip });
    expect(out.status).toBe(200);
    expect(await sessionUserFrom(auth, headers)).toBeNull();
  });

  it("refuses a sign-in whose email no account can have before any password is hashed, however often it comes", async () => {
    // Passed to the library, such a sign-in was counted by neither limit and still paid a scrypt
    // hash to answer 401: anyone could keep the server's hashing threads busy.
    const ctx = await auth.$context;
    const hash = ctx.password.hash;
    let hashed = 0;
    ctx.password.hash = async (secret: string) => {
      hashed += 1;
      return hash(secret);
    };
    try {
      const ip = clientIp();
      const bodies: unknown[] = [{ email: `${"a".repeat(300)}@example.org`, password: "xxxxxxxxxx" }, { email: "   ", password }, { email: 42, password }, { password }, "not an object", null];
      for (let i = 0; i < 3 * testConfig.signInPerMinute; i++) {
        const response = await post(auth, "/sign-in/email", bodies[i % bodies.length], { [PEER_HEADER]: ip });
        expect(response.status).toBe(400);
        expect(await response.json()).toMatchObject({ code: "BAD_REQUEST", message: expect.stringMatching(/email \(at most 254 characters\)/) });
      }
      const broken = await handleAuthRequest(
        auth,
        new Request(`${origin}/api/auth/sign-in/email`, { method: "POST", headers: { "content-type": "application/json", origin, host: "127.0.0.1:3100", [PEER_HEADER]: ip }, body: "{not json" }),
      );
      expect(broken.status).toBe(400);
      expect(hashed).toBe(0);
      // The address was not counted for any of them: its owner still signs in.
      expect((await post(auth, "/sign-in/email", { email, password }, { [PEER_HEADER]: ip })).status).toBe(200);
    } finally {
      ctx.password.hash = hash;
    }
  });

  it("refuses a body over the sign-in limit with 413 before reading it all, counting no attempt", async () => {
    const ip = clientIp();
    const huge = await post(auth, "/sign-in/email", { email, password, padding: "x".repeat(MAX_AUTH_BODY_BYTES) }, { [PEER_HEADER]: ip });
    expect(huge.status).toBe(413);
    expect(((await huge.json()) as { code: string }).code).toBe("PAYLOAD_TOO_LARGE");
    // Streamed with no length: cut off once past the limit, not read to its end.
    let sent = 0;
    const chunk = new TextEncoder().encode("x".repeat(64 * 1024));
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        sent += chunk.byteLength;
        if (sent > 64 * MAX_AUTH_BODY_BYTES) controller.close();
        else controller.enqueue(chunk);
      },
    });
    const streamed = await handleAuthRequest(
      auth,
      new Request(`${origin}/api/auth/sign-in/email`, {
        method: "POST",
        headers: { "content-type": "application/json", origin, host: "127.0.0.1:3100", [PEER_HEADER]: ip },
        body: endless,
        duplex: "half",
      } as RequestInit & { duplex: "half" }),
    );
    expect(streamed.status).toBe(413);
    expect(sent).toBeLessThanOrEqual(16 * MAX_AUTH_BODY_BYTES);
    expect((await post(auth, "/sign-in/email", { email, password }, { [PEER_HEADER]: ip })).status).toBe(200);
  });

  it("answers a wrong password and an unknown email with the same generic message", async () => {
    const ip = clientIp();
    const wrong = await post(auth, "/sign-in/email", { email, password: "not the password" }, { [PEER_HEADER]: ip });
    const unknown = await post(auth, "/sign-in/email", { email: `nobody-${randomUUID()}@test.invalid`, password }, { [PEER_HEADER]: ip });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    const a = (await wrong.json()) as { message: string };
    const b = (await unknown.json()) as { message: string };
    expect(a.message).toBe(b.message);
    expect(a.message).toMatch(/invalid email or password/i);
  });

  it("refuses a sign-in posted from another origin (CSRF)", async () => {
    const response = await post(auth, "/sign-in/email", { email, password }, { origin: "https://evil.example", [PEER_HEADER]: clientIp() });
    expect(response.status).toBe(403);
    expect(response.headers.getSetCookie()).toEqual([]);
  });

  it("rate-limits failed sign-ins per client: 429 after the configured number per minute", async () => {
    const ip = clientIp();
    const statuses: number[] = [];
    for (let i = 0; i < testConfig.signInPerMinute + 2; i++) {
      statuses.push((await post(auth, "/sign-in/email", { email, password: `wrong-${i}-password` }, { [PEER_HEADER]: ip })).status);
    }
    expect(statuses.slice(0, testConfig.signInPerMinute)).toEqual(Array(testConfig.signInPerMinute).fill(401));
    expect(statuses.slice(testConfig.signInPerMinute)).toEqual([429, 429]);
    // Even the right password is refused until the window passes; another client is not affected.
    expect((await post(auth, "/sign-in/email", { email, password }, { [PEER_HEADER]: ip })).status).toBe(429);
    expect((await post(auth, "/sign-in/email", { email, password }, { [PEER_HEADER]: clientIp() })).status).toBe(200);
  });

  it("treats a host it is not configured for as signed out, and refuses to sign in there", async () => {
    const host = "192.0.2.7:3000";
    expect(await sessionUserFrom(auth, new Headers({ host, cookie: "emr.session_token=x" }))).toBeNull();
    const response = await handleAuthRequest(
      auth,
      new Request(`http://${host}/api/auth/sign-in/email`, {
        method: "POST",
        headers: { host, origin: `http://${host}`, "content-type": "application/json", [PEER_HEADER]: clientIp() },
        body: JSON.stringify({ email, password }),
      }),
    );
    expect(response.status).toBe(421);
    expect(response.headers.getSetCookie()).toEqual([]);
  });

  it("has no sign-up: accounts are made by admins", async () => {
    const response = await post(auth, "/sign-up/email", { email: `x-${randomUUID()}@test.invalid`, password, name: "X" }, { [PEER_HEADER]: clientIp() });
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(await db().prisma.user.count({ where: { name: "X" } })).toBe(0);
  });

  it("counts every password check: a sign-in not sent as JSON is refused, and the library's other password endpoints are not served", async () => {
    const ip = clientIp();
    const form = await handleAuthRequest(
      auth,
      new Request(`${origin}/api/auth/sign-in/email`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", origin, host: "127.0.0.1:3100", [PEER_HEADER]: ip },
        body: new URLSearchParams({ email, password }).toString(),
      }),
    );
    expect(form.status).toBe(415);
    expect(form.headers.getSetCookie()).toEqual([]);
    const signIn = await post(auth, "/sign-in/email", { email, password }, { [PEER_HEADER]: ip });
    expect(signIn.status).toBe(200);
    const cookie = cookieFrom(signIn);
    for (const path of ["/verify-password", "/change-password", "/list-sessions", "/revoke-session", "/revoke-sessions", "/update-session", "/list-accounts", "/account-info", "/sign-in/social"]) {
      const response = await post(auth, path, { password, currentPassword: password, newPassword: "another long password" }, { cookie, [PEER_HEADER]: ip });
      expect([path, response.status]).toEqual([path, 404]);
    }
    // The password is unchanged: it still signs in.
    expect((await post(auth, "/sign-in/email", { email, password }, { [PEER_HEADER]: clientIp() })).status).toBe(200);
    // The endpoints served answer only their own method.
    const getSignIn = await handleAuthRequest(auth, new Request(`${origin}/api/auth/sign-in/email`, { headers: { host: "127.0.0.1:3100" } }));
    expect(getSignIn.status).toBe(405);
  });

  it("does not let a user set their own roles through the library's endpoints", async () => {
    const ip = clientIp();
    const signIn = await post(auth, "/sign-in/email", { email, password }, { [PEER_HEADER]: ip });
    const cookie = cookieFrom(signIn);
    const update = await post(auth, "/update-user", { roles: ["admin"] }, { cookie, [PEER_HEADER]: ip });
    expect(update.status).toBeGreaterThanOrEqual(400);
    const user = await db().prisma.user.findUnique({ where: { email }, select: { roles: true } });
    expect(user?.roles.sort()).toEqual(["clinician", "compliance"]);
  });

  it("resolves the tRPC context's user from the session cookie, and from nothing else", async () => {
    const ip = clientIp();
    const signIn = await post(auth, "/sign-in/email", { email, password }, { [PEER_HEADER]: ip });
    const cookie = cookieFrom(signIn);
    // No user override: createContext asks the process's own auth (authFor) about the cookie.
    const ctx = await createContext({ headers: new Headers({ cookie, host: "127.0.0.1:3100" }), db: db() });
    expect(ctx.user?.email).toBe(email);
    const forged = await createContext({
      headers: new Headers({ host: "127.0.0.1:3100", "x-user-id": ctx.user?.id ?? "", cookie: "emr.session_token=forged.value" }),
      db: db(),
    });
    expect(forged.user).toBeNull();
  });
});

describeEachDatabase("demo users", (db) => {
  it("seeds one user per role, once, who can then sign in", async () => {
    const auth = createAuth(db(), testConfig);
    const e = parseEnv({ NODE_ENV: "development" });
    const lines: string[] = [];
    const first = await seedDemoUsers(db(), e, { auth, log: (l) => lines.push(l) });
    const second = await seedDemoUsers(db(), e, { auth, log: () => {} });
    expect(first).toEqual({ created: 3, seeded: true });
    expect(second).toEqual({ created: 0, seeded: true });
    expect(lines.join("\n")).toContain("admin@demo.test");
    const seeded = await db().prisma.user.findMany({ where: { email: { endsWith: "@demo.test" } }, select: { email: true, roles: true } });
    expect(seeded.map((u) => `${u.email}:${u.roles.join(",")}`).sort()).toEqual(
      demoUsers.map((u) => `${u.email}:${u.roles.join(",")}`).sort(),
    );
    const response = await post(auth, "/sign-in/email", { email: "compliance@demo.test", password: DEMO_PASSWORD }, { [PEER_HEADER]: clientIp() });
    expect(response.status).toBe(200);
  });

  it("a demo user whose password a stopped start never linked gets it on the next start, and can sign in", async () => {
    const auth = createAuth(db(), testConfig);
    const e = parseEnv({ NODE_ENV: "development" });
    await seedDemoUsers(db(), e, { auth, log: () => {} });
    // As a start killed between creating the user and linking its password left it.
    const admin = await db().prisma.user.findUniqueOrThrow({ where: { email: "admin@demo.test" }, select: { id: true } });
    await db().prisma.account.deleteMany({ where: { userId: admin.id } });
    expect((await post(auth, "/sign-in/email", { email: "admin@demo.test", password: DEMO_PASSWORD }, { [PEER_HEADER]: clientIp() })).status).toBe(401);

    expect(await seedDemoUsers(db(), e, { auth, log: () => {} })).toEqual({ created: 1, seeded: true });
    expect((await post(auth, "/sign-in/email", { email: "admin@demo.test", password: DEMO_PASSWORD }, { [PEER_HEADER]: clientIp() })).status).toBe(200);
    expect(await db().prisma.user.count({ where: { email: "admin@demo.test" } })).toBe(1);
  });
});

describe("when demo users are seeded", () => {
  it("never in production unless SEED_DEMO_USERS=true; SEED_DEMO_USERS=false turns them off", () => {
    expect(shouldSeedDemoUsers({ NODE_ENV: "development", SEED_DEMO_USERS: undefined })).toBe(true);
    expect(shouldSeedDemoUsers({ NODE_ENV: "production", SEED_DEMO_USERS: undefined })).toBe(false);
    expect(shouldSeedDemoUsers({ NODE_ENV: "production", SEED_DEMO_USERS: "true" })).toBe(true);
    expect(shouldSeedDemoUsers({ NODE_ENV: "development", SEED_DEMO_USERS: "false" })).toBe(false);
  });
});
