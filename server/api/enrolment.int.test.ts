// Enrolment links: an admin makes an account (or resets its password) and gets a one-time link;
// the user sets their own password with it. The admin never knows the password.
import { randomUUID } from "node:crypto";
import { beforeAll, expect, it } from "vitest";
import { describeEachDatabase } from "../testing/db";
import { callerFor, codeOf, contextFor } from "../testing/caller";
import { createCaller } from "./root";
import { readStream, storeOn } from "../eventStore";
import { eventRegistry } from "../domain/registry";
import { userStream } from "../domain/user/events";
import { createAuth, handleAuthRequest, type Auth } from "../auth";
import { completeEnrolment, countEnrolmentAttempt } from "./enrolment";
import { enrolmentTokenHash } from "./userAccounts";
import type { Database } from "../db/client";

const secret = "test-secret-0123456789-0123456789-abcdef";
process.env.BETTER_AUTH_SECRET = secret;
// One proxy in front: X-Forwarded-For names the client, so each test has an address of its own
// and the per-address limit (AUTH_SIGNIN_RATE_LIMIT a minute) is one test's alone.
process.env.TRUSTED_PROXIES = "1";
process.env.AUTH_SIGNIN_RATE_LIMIT = "20";

const origin = "http://127.0.0.1:3100";
const clientIp = () => `10.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250) + 1}`;
/** The enrolment page's calls, as an anonymous browser at this address. */
const visitor = (db: Database, ip = clientIp()) => createCaller(contextFor(db, null, { "x-forwarded-for": ip }));

async function signInStatus(auth: Auth, email: string, password: string): Promise<number> {
  const response = await handleAuthRequest(
    auth,
    new Request(`${origin}/api/auth/sign-in/email`, {
      method: "POST",
      headers: { "content-type": "application/json", origin, host: "127.0.0.1:3100", "x-forwarded-for": clientIp() },
      body: JSON.stringify({ email, password }),
    }),
  );
  return response.status;
}

describeEachDatabase("enrolment links", (db) => {
  let auth: Auth;
  let admin: ReturnType<typeof callerFor>;
  const adminId = `admin-${randomUUID()}`;
  const password = "my own secret words";

  beforeAll(() => {
    auth = createAuth(db(), { secret, baseURL: null, signInPerMinute: 1000, accountFailureLimit: 1000 });
    admin = callerFor(db(), ["admin"], { id: adminId });
  });

  const newAccount = async (roles: ("clinician" | "compliance" | "admin")[] = ["clinician"], by = admin) => {
    const email = `enrol-${randomUUID()}@test.invalid`;
    const created = await by.users.create({ email, name: "Robin Enrol", roles });
    return { ...created, email };
  };
  /** The account's user sets their password with its link. */
  const enrol = async (account: { enrolment: { token: string } }) =>
    expect(await completeEnrolment(db(), auth, { token: account.enrolment.token, password })).toMatchObject({ status: "enrolled" });
  const events = (id: string) => readStream(storeOn(db(), eventRegistry), userStream(id));
  const statusOf = async (id: string) => (await admin.users.list({ search: (await db().prisma.user.findUniqueOrThrow({ where: { id }, select: { email: true } })).email })).find((u) => u.id === id)!.status;

  it("gives the admin a random link instead of taking a password; only its hash is stored; no sign-in before enrolment", async () => {
    const { id, email, enrolment } = await newAccount();
    // 32 random bytes, base64url: 256 bits.
    expect(enrolment.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(enrolment.token, "base64url")).toHaveLength(32);
    const hours = (enrolment.expiresAt.getTime() - Date.now()) / 3_600_000;
    expect(hours).toBeGreaterThan(71.9);
    expect(hours).toBeLessThanOrEqual(72);
    const row = await db().prisma.enrolmentLink.findUniqueOrThrow({ where: { userId: id }, select: { tokenHash: true, usedAt: true } });
    expect(row).toEqual({ tokenHash: enrolmentTokenHash(enrolment.token), usedAt: null });
    expect(row.tokenHash).not.toContain(enrolment.token);
    // Nothing in the database holds the token in clear.
    const [{ n }] = (await db().prisma.$queryRawUnsafe(
      `SELECT count(*)::int AS n FROM (SELECT row_to_json(l)::text AS t FROM auth_enrolment_links l UNION ALL SELECT row_to_json(a)::text FROM auth_accounts a UNION ALL SELECT row_to_json(e)::text FROM events e UNION ALL SELECT row_to_json(o)::text FROM outbox o) x WHERE t LIKE '%' || $1 || '%'`,
      enrolment.token,
    )) as [{ n: number }];
    expect(n).toBe(0);
    // No password yet: the account cannot sign in, whatever is tried.
    expect(await db().prisma.account.count({ where: { userId: id } })).toBe(0);
    for (const guess of [password, enrolment.token, ""]) expect(await signInStatus(auth, email, guess)).not.toBe(200);
    expect(await statusOf(id)).toEqual({ state: "pending", expiresAt: enrolment.expiresAt, expired: false });
  });

  it("sets the user's own password once: the link then says it was used, and sign-in works", async () => {
    const { id, email, enrolment } = await newAccount();
    const page = visitor(db());
    expect(await page.enrolment.lookup({ token: enrolment.token })).toEqual({ status: "valid", name: "Robin Enrol", email, expiresAt: enrolment.expiresAt });
    expect(await codeOf(page.enrolment.complete({ token: enrolment.token, password: "short" }))).toBe("BAD_REQUEST");
    expect(await page.enrolment.complete({ token: enrolment.token, password })).toEqual({ status: "enrolled", email });
    expect(await signInStatus(auth, email, password)).toBe(200);
    expect(await statusOf(id)).toEqual({ state: "active" });
    // Single use: the same link again changes nothing.
    expect(await page.enrolment.complete({ token: enrolment.token, password: "someone else's choice" })).toEqual({ status: "used" });
    expect(await page.enrolment.lookup({ token: enrolment.token })).toEqual({ status: "used" });
    expect(await signInStatus(auth, email, "someone else's choice")).toBe(401);
    expect(await signInStatus(auth, email, password)).toBe(200);
  });

  it("refuses an expired or unknown link with its reason, and sets nothing", async () => {
    const { id, enrolment } = await newAccount();
    await db().prisma.enrolmentLink.update({ where: { userId: id }, data: { expiresAt: new Date(Date.now() - 1000) }, select: { userId: true } });
    const page = visitor(db());
    expect(await page.enrolment.lookup({ token: enrolment.token })).toEqual({ status: "expired" });
    expect(await page.enrolment.complete({ token: enrolment.token, password })).toEqual({ status: "expired" });
    expect(await db().prisma.account.count({ where: { userId: id } })).toBe(0);
    expect(await statusOf(id)).toMatchObject({ state: "pending", expired: true });
    for (const token of ["", "x", enrolment.token.slice(0, 42), `${enrolment.token.slice(0, 42)}A`.replace(/A$/, enrolment.token.endsWith("A") ? "B" : "A"), "a".repeat(100)]) {
      expect(await page.enrolment.lookup({ token })).toEqual({ status: "unknown" });
      expect(await page.enrolment.complete({ token, password })).toEqual({ status: "unknown" });
    }
    expect(await codeOf(page.enrolment.lookup({ token: "a".repeat(101) }))).toBe("BAD_REQUEST");
  });

  it("a new link replaces the old one; a reset removes the password and signs the user out", async () => {
    const { id, email, enrolment: first } = await newAccount();
    const page = visitor(db());
    const second = await admin.users.issueEnrolmentLink({ userId: id, reason: "first link went to the wrong ward" });
    expect(second.cause).toBe("reissued");
    expect(await page.enrolment.lookup({ token: first.token })).toEqual({ status: "unknown" });
    expect(await page.enrolment.complete({ token: first.token, password })).toEqual({ status: "unknown" });
    expect(await page.enrolment.complete({ token: second.token, password })).toEqual({ status: "enrolled", email });
    await db().prisma.session.create({ data: { id: randomUUID(), token: randomUUID(), userId: id, expiresAt: new Date(Date.now() + 3_600_000) }, select: { id: true } });

    const reset = await admin.users.issueEnrolmentLink({ userId: id, reason: "forgot the password (call 4411)" });
    expect(reset.cause).toBe("reset");
    expect(await signInStatus(auth, email, password)).toBe(401);
    expect(await db().prisma.session.count({ where: { userId: id } })).toBe(0);
    expect(await statusOf(id)).toMatchObject({ state: "pending", expired: false });
    expect(await page.enrolment.lookup({ token: second.token })).toEqual({ status: "unknown" });
    expect(await page.enrolment.complete({ token: reset.token, password: "a brand new phrase" })).toEqual({ status: "enrolled", email });
    expect(await signInStatus(auth, email, "a brand new phrase")).toBe(200);

    expect(await codeOf(admin.users.issueEnrolmentLink({ userId: id, reason: "" }))).toBe("BAD_REQUEST");
    expect(await codeOf(admin.users.issueEnrolmentLink({ userId: "no-such-user", reason: "forgot it" }))).toBe("NOT_FOUND");
    for (const roles of [["clinician"], ["compliance"], null] as const) {
      const caller = callerFor(db(), roles === null ? null : [...roles]);
      expect(await codeOf(caller.users.issueEnrolmentLink({ userId: id, reason: "not an admin" }))).toBe(roles === null ? "UNAUTHORIZED" : "FORBIDDEN");
    }
  });

  it("records who issued each link, for whom and why, and who enrolled, never the token", async () => {
    const { id, enrolment } = await newAccount();
    await visitor(db()).enrolment.complete({ token: enrolment.token, password });
    const reset = await admin.users.issueEnrolmentLink({ userId: id, reason: "lost phone with the password manager" });
    await visitor(db()).enrolment.complete({ token: reset.token, password: "yet another phrase" });
    const stored = await events(id);
    expect(stored.map((e) => [e.type, e.metadata.userId, e.data])).toEqual([
      ["UserCreated", adminId, expect.objectContaining({ userId: id })],
      ["UserEnrolmentIssued", adminId, { userId: id, expiresAt: enrolment.expiresAt.toISOString(), cause: "created" }],
      ["UserEnrolled", id, { userId: id }],
      ["UserEnrolmentIssued", adminId, { userId: id, expiresAt: reset.expiresAt.toISOString(), cause: "reset", reason: "lost phone with the password manager" }],
      ["UserEnrolled", id, { userId: id }],
    ]);
    const all = JSON.stringify(stored);
    for (const secretText of [enrolment.token, reset.token, enrolmentTokenHash(enrolment.token), enrolmentTokenHash(reset.token), password]) {
      expect(all).not.toContain(secretText);
    }
    // The compliance views show them.
    const page = await callerFor(db(), ["compliance"]).audit.events({ streamId: userStream(id) });
    expect(JSON.stringify(page)).toContain("lost phone with the password manager");
  });

  it("lets exactly one of two uses of one link at once win", async () => {
    const { enrolment } = await newAccount();
    const results = await Promise.all([
      completeEnrolment(db(), auth, { token: enrolment.token, password: "first racer phrase" }),
      completeEnrolment(db(), auth, { token: enrolment.token, password: "second racer phrase" }),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual(["enrolled", "used"]);
  });

  it("keeps the two-admin rule: whoever issued a link for an account cannot grant it admin with a role that reads patient data", async () => {
    const a = callerFor(db(), ["admin"], { id: `admin-a-${randomUUID()}` });
    const b = callerFor(db(), ["admin"], { id: `admin-b-${randomUUID()}` });
    const reason = "covers nights";
    expect(await codeOf(newAccount(["admin", "clinician"]))).toBe("FORBIDDEN");
    // Made by A: A may not grant the other half, B may.
    const made = await newAccount(["admin"], a);
    expect(await codeOf(a.users.setRoles({ userId: made.id, roles: ["admin", "clinician"], reason }))).toBe("FORBIDDEN");
    // Made by B, but A reset its password (and so held its link): A still may not.
    const other = await newAccount(["admin"], b);
    await a.users.issueEnrolmentLink({ userId: other.id, reason: "link expired" });
    expect(await codeOf(a.users.setRoles({ userId: other.id, roles: ["admin", "compliance"], reason }))).toBe("FORBIDDEN");
    await enrol(made);
    expect(await codeOf(b.users.setRoles({ userId: made.id, roles: ["admin", "clinician"], reason }))).toBe("OK");
    // An account holding both gets no link from any admin: whoever held it could enrol as it.
    expect(await codeOf(a.users.issueEnrolmentLink({ userId: made.id, reason: "forgot it" }))).toBe("FORBIDDEN");
    expect(await codeOf(b.users.issueEnrolmentLink({ userId: made.id, reason: "forgot it" }))).toBe("FORBIDDEN");
  });

  it("keeps the two-admin rule through accounts one admin made: a made admin account cannot grant its maker, nor a second account of the same maker", async () => {
    const unconnected = callerFor(db(), ["admin"], { id: `admin-u-${randomUUID()}` });
    const reason = "covers nights";
    const aId = (await db().prisma.user.create({ data: { id: randomUUID(), email: `a-${randomUUID()}@test.invalid`, name: "Avery Admin", emailVerified: true, roles: ["admin"] } })).id;
    const asA = callerFor(db(), ["admin"], { id: aId });
    // A makes an admin account it could enrol as itself; acting as it, A grants A a clinical role.
    const puppet = await newAccount(["admin"], asA);
    const asPuppet = callerFor(db(), ["admin"], { id: puppet.id });
    expect(await codeOf(asPuppet.users.setRoles({ userId: aId, roles: ["admin", "clinician"], reason }))).toBe("FORBIDDEN");
    // One step further: the account made by the made account is A's too.
    const second = await newAccount(["admin"], asPuppet);
    expect(await codeOf(callerFor(db(), ["admin"], { id: second.id }).users.setRoles({ userId: aId, roles: ["admin", "compliance"], reason }))).toBe("FORBIDDEN");
    // A's clinician and A's admin account: granting the clinician admin would be A holding both.
    const clinician = await newAccount(["clinician"], asA);
    expect(await codeOf(asPuppet.users.setRoles({ userId: clinician.id, roles: ["admin", "clinician"], reason }))).toBe("FORBIDDEN");
    // A link A reissued for another admin's account counts as holding it.
    const other = await newAccount(["admin"], unconnected);
    await asA.users.issueEnrolmentLink({ userId: other.id, reason: "link expired" });
    expect(await codeOf(callerFor(db(), ["admin"], { id: other.id }).users.setRoles({ userId: aId, roles: ["admin", "clinician"], reason }))).toBe("FORBIDDEN");
    // An admin connected to neither may grant it; nothing was changed by the refusals.
    expect((await db().prisma.user.findUniqueOrThrow({ where: { id: aId }, select: { roles: true } })).roles).toEqual(["admin"]);
    await enrol(clinician);
    expect(await codeOf(unconnected.users.setRoles({ userId: clinician.id, roles: ["admin", "clinician"], reason }))).toBe("OK");
    // Roles that do not put admin and patient data together are not asked about.
    expect(await codeOf(asPuppet.users.setRoles({ userId: aId, roles: ["admin"], reason }))).toBe("OK");
  });

  it("grants admin with a role that reads patient data only once the account has enrolled: its unused link's holder could enrol as it", async () => {
    // Two unconnected admins, as in the attacker's t24: B makes a clinician account and keeps its
    // link; A, who never held it, grants the account admin as well.
    const a = callerFor(db(), ["admin"], { id: `admin-a-${randomUUID()}` });
    const b = callerFor(db(), ["admin"], { id: `admin-b-${randomUUID()}` });
    const reason = "second pair of eyes";
    const x = await newAccount(["clinician"], b);
    const refused = await a.users.setRoles({ userId: x.id, roles: ["clinician", "admin"], reason }).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: "PRECONDITION_FAILED", message: expect.stringMatching(/has not enrolled yet/) });
    expect(await codeOf(a.users.setRoles({ userId: x.id, roles: ["compliance", "admin"], reason }))).toBe("PRECONDITION_FAILED");
    // Nothing changed: the roles, the stream (no UserRolesChanged), and the link still works for its user.
    expect((await db().prisma.user.findUniqueOrThrow({ where: { id: x.id }, select: { roles: true } })).roles).toEqual(["clinician"]);
    expect((await events(x.id)).map((e) => e.type)).toEqual(["UserCreated", "UserEnrolmentIssued"]);
    // A grant that does not put admin and patient data together is not held back by the link.
    expect(await codeOf(a.users.setRoles({ userId: x.id, roles: ["clinician", "compliance"], reason }))).toBe("OK");
    // Expired unused, the link is still no enrolment: the account could get no new one once both.
    await db().prisma.enrolmentLink.update({ where: { userId: x.id }, data: { expiresAt: new Date(Date.now() - 1000) } });
    expect(await codeOf(a.users.setRoles({ userId: x.id, roles: ["clinician", "admin"], reason }))).toBe("PRECONDITION_FAILED");
    // A new link (B's), the user enrols with it: now A may grant, and B's link is spent.
    const reissued = await b.users.issueEnrolmentLink({ userId: x.id, reason: "the first one expired" });
    await enrol({ enrolment: reissued });
    expect(await codeOf(a.users.setRoles({ userId: x.id, roles: ["clinician", "admin"], reason }))).toBe("OK");
    expect(await completeEnrolment(db(), auth, { token: reissued.token, password: "the maker's own phrase" })).toEqual({ status: "used" });
    // A password reset after the grant is refused, as before: no link is outstanding for an account that is both.
    expect(await codeOf(b.users.issueEnrolmentLink({ userId: x.id, reason: "forgot it" }))).toBe("FORBIDDEN");
  });

  it("limits attempts with links per client address, as sign-in is limited", async () => {
    const ip = clientIp();
    const page = visitor(db(), ip);
    const statuses: string[] = [];
    for (let i = 0; i < 22; i++) statuses.push(await codeOf(page.enrolment.lookup({ token: `guess-${i}` })));
    expect(statuses.slice(0, 20)).toEqual(Array(20).fill("OK"));
    expect(statuses.slice(20)).toEqual(["TOO_MANY_REQUESTS", "TOO_MANY_REQUESTS"]);
    const { enrolment } = await newAccount();
    expect(await codeOf(page.enrolment.complete({ token: enrolment.token, password }))).toBe("TOO_MANY_REQUESTS");
    // Another address is not held back, and the window passes.
    expect(await visitor(db()).enrolment.lookup({ token: enrolment.token })).toMatchObject({ status: "valid" });
    await expect(countEnrolmentAttempt(db(), `${ip}-later`, 2, 1)).resolves.toBeUndefined();
    await expect(countEnrolmentAttempt(db(), `${ip}-later`, 2, 1)).resolves.toBeUndefined();
    await expect(countEnrolmentAttempt(db(), `${ip}-later`, 2, 1)).rejects.toThrow(/Too many attempts/);
    await new Promise((r) => setTimeout(r, 1100));
    await expect(countEnrolmentAttempt(db(), `${ip}-later`, 2, 1)).resolves.toBeUndefined();
  });
});
