import { randomUUID } from "node:crypto";
import { beforeAll, expect, it } from "vitest";
import { describeEachDatabase, describePostgres } from "../../testing/db";
import { callerFor, codeOf } from "../../testing/caller";
import { appendToStream, readStream, storeOn } from "../../eventStore";
import { eventRegistry } from "../../domain/registry";
import { userStream } from "../../domain/user/events";
import { authFor } from "../../auth";
import { storeFor } from "../context";
import { createUserAccount, systemActor } from "../userAccounts";
import { completeEnrolment } from "../enrolment";

process.env.BETTER_AUTH_SECRET ??= "test-secret-0123456789-0123456789-abcdef";

// Only npm run users:create takes a password (the operator's own first admin account).
const password = "long enough password";

describeEachDatabase("users (admin)", (db) => {
  const tag = randomUUID().slice(0, 8);
  let admin: ReturnType<typeof callerFor>;

  beforeAll(() => {
    admin = callerFor(db(), ["admin"]);
  });

  const events = (id: string) => readStream(storeOn(db(), eventRegistry), userStream(id));
  /** The account's user sets their password with its link: an account still to enrol gets no grant of admin with patient data. */
  const enrol = async (account: { enrolment: { token: string } }) =>
    expect(await completeEnrolment(db(), authFor(db()), { token: account.enrolment.token, password })).toMatchObject({ status: "enrolled" });
  const rolesOf = async (id: string) => (await db().prisma.user.findUnique({ where: { id }, select: { roles: true } }))?.roles.sort();

  it("creates a user without a password (an enrolment link instead), lists it, and refuses a second one with the same email", async () => {
    const email = `New.User-${tag}@Test.invalid`;
    const { id } = await admin.users.create({ email, name: "New User", roles: ["clinician"] });
    const listed = await admin.users.list({ search: tag });
    expect(listed).toEqual([expect.objectContaining({ id, email: email.toLowerCase(), name: "New User", roles: ["clinician"] })]);
    expect(listed[0]).not.toHaveProperty("password");
    expect(listed[0]!.status).toMatchObject({ state: "pending", expired: false });
    expect(await db().prisma.account.count({ where: { userId: id } })).toBe(0);
    expect(await codeOf(admin.users.create({ email, name: "Again", roles: [] }))).toBe("CONFLICT");
    expect(await codeOf(admin.users.create({ email: `x-${tag}@test.invalid`, name: "Short", password: "chosen by the admin", roles: [] } as never))).toBe("BAD_REQUEST");
  });

  it("writes no account when its UserCreated event fails: one transaction", async () => {
    const email = `rollback-${tag}@test.invalid`;
    const id = `user-${randomUUID()}`;
    // The user's stream already exists, so the creation's no_stream append fails.
    await appendToStream(
      storeFor(db()),
      userStream(id),
      [{ type: "UserRolesChanged", data: { userId: id, previousRoles: [], roles: [] }, eventId: randomUUID(), occurredAt: new Date(), userId: "test", correlationId: "test", causationId: null }],
      { expectedVersion: "no_stream", aggregateType: "user" },
    );
    await expect(createUserAccount(db(), authFor(db()), { email, name: "Rolled Back", password, roles: ["clinician"] }, systemActor(), id)).rejects.toThrow(
      /expected version no_stream/,
    );
    expect(await db().prisma.user.count({ where: { email } })).toBe(0);
    expect(await db().prisma.account.count({ where: { userId: id } })).toBe(0);
    // The same email then goes through, with its event.
    const made = await createUserAccount(db(), authFor(db()), { email, name: "Made", password, roles: [] }, systemActor("corr-cli"));
    expect((await events(made.id)).map((e) => [e.type, e.metadata.userId, e.metadata.correlationId])).toEqual([["UserCreated", "system:users-cli", "corr-cli"]]);
  });

  it("sets roles with a reason, refuses unknown or repeated roles, and never removes the last admin", async () => {
    const { id } = await admin.users.create({ email: `roles-${tag}@test.invalid`, name: "Roles", roles: [] });
    const reason = "joins the ward team";
    expect((await admin.users.setRoles({ userId: id, roles: ["compliance", "clinician"], reason })).roles.sort()).toEqual(["clinician", "compliance"]);
    expect(await codeOf(admin.users.setRoles({ userId: id, roles: ["superuser" as never], reason }))).toBe("BAD_REQUEST");
    expect(await codeOf(admin.users.setRoles({ userId: id, roles: ["admin", "admin"], reason }))).toBe("BAD_REQUEST");
    expect(await codeOf(admin.users.setRoles({ userId: id, roles: [], reason: "" }))).toBe("BAD_REQUEST");
    expect(await codeOf(admin.users.setRoles({ userId: "no-such-user", roles: [], reason }))).toBe("NOT_FOUND");

    // Make this the only admin, then try to take the role away.
    await admin.users.setRoles({ userId: id, roles: ["admin"], reason });
    const others = await db().prisma.user.findMany({ where: { roles: { has: "admin" }, id: { not: id } }, select: { id: true } });
    for (const other of others) await admin.users.setRoles({ userId: other.id, roles: [], reason });
    expect(await codeOf(admin.users.setRoles({ userId: id, roles: ["clinician"], reason }))).toBe("PRECONDITION_FAILED");
    const second = await admin.users.create({ email: `admin2-${tag}@test.invalid`, name: "Second", roles: ["admin"] });
    expect(await codeOf(admin.users.setRoles({ userId: id, roles: ["clinician"], reason }))).toBe("OK");
    expect(second.id).toBeTruthy();
  });

  it("records user creation and role changes as events by the admin who made them, with why", async () => {
    const { id } = await admin.users.create({ email: `audit-${tag}@test.invalid`, name: "Audited", roles: [] });
    await admin.users.setRoles({ userId: id, roles: ["clinician"], reason: "  new registrar on ward 3 " });
    const stored = await events(id);
    expect(stored.map((e) => [e.type, e.data])).toEqual([
      ["UserCreated", { userId: id, email: `audit-${tag}@test.invalid`, name: "Audited", roles: [] }],
      ["UserEnrolmentIssued", { userId: id, expiresAt: expect.any(String), cause: "created" }],
      ["UserRolesChanged", { userId: id, previousRoles: [], roles: ["clinician"], reason: "new registrar on ward 3" }],
    ]);
    const adminId = stored[0]!.metadata.userId;
    expect(adminId).not.toBe(id);
    expect(stored.every((e) => e.metadata.userId === adminId)).toBe(true);
    // The audit log shows it: the change, by whom, with the reason.
    const audit = callerFor(db(), ["compliance"]);
    const page = await audit.audit.events({ streamId: userStream(id) });
    expect(JSON.stringify(page)).toContain("new registrar on ward 3");
  });

  it("separates duties: nobody changes their own roles, and admin with a role that reads patient data takes two admins", async () => {
    // Made by two admins: one admin who made both could be behind both (enrolment.int.test.ts).
    const a = await admin.users.create({ email: `sod-a-${tag}@test.invalid`, name: "Admin A", roles: ["admin"] });
    const b = await callerFor(db(), ["admin"]).users.create({ email: `sod-b-${tag}@test.invalid`, name: "Admin B", roles: ["admin"] });
    const asA = callerFor(db(), ["admin"], { id: a.id });
    const asB = callerFor(db(), ["admin"], { id: b.id });
    const reason = "wants to read charts";
    // Oneself: never, whatever the change.
    for (const roles of [["admin", "clinician"], ["admin", "compliance"], ["compliance"], []] as const) {
      expect(await codeOf(asA.users.setRoles({ userId: a.id, roles: [...roles], reason }))).toBe("FORBIDDEN");
    }
    expect(await rolesOf(a.id)).toEqual(["admin"]);
    // A new account that is both: refused (its creator holds its enrolment link).
    for (const roles of [["admin", "clinician"], ["compliance", "admin"]] as const) {
      const email = `sod-both-${roles.join("-")}-${tag}@test.invalid`;
      expect(await codeOf(asA.users.create({ email, name: "Both", roles: [...roles] }))).toBe("FORBIDDEN");
      expect(await db().prisma.user.count({ where: { email } })).toBe(0);
    }
    // Another admin may grant it once A has enrolled, and the trail names that admin.
    await enrol(a);
    expect(await codeOf(asB.users.setRoles({ userId: a.id, roles: ["admin", "clinician"], reason: "covers the night shift" }))).toBe("OK");
    const last = (await events(a.id)).at(-1)!;
    expect(last).toMatchObject({ type: "UserRolesChanged", data: { roles: ["admin", "clinician"], reason: "covers the night shift" } });
    expect(last.metadata.userId).toBe(b.id);
    // Only refused changes were tried by A: its stream holds the creation (with its link) and B's grant.
    expect((await events(a.id)).map((e) => e.type)).toEqual(["UserCreated", "UserEnrolmentIssued", "UserEnrolled", "UserRolesChanged"]);

    // Nor in two steps by one admin: B makes an admin account (and holds its link), then
    // cannot grant it a role that reads patient data; A, who did not make it, can.
    const x = await asB.users.create({ email: `sod-x-${tag}@test.invalid`, name: "Admin X", roles: ["admin"] });
    expect(await codeOf(asB.users.setRoles({ userId: x.id, roles: ["admin", "clinician"], reason }))).toBe("FORBIDDEN");
    expect(await rolesOf(x.id)).toEqual(["admin"]);
    await enrol(x);
    expect(await codeOf(asA.users.setRoles({ userId: x.id, roles: ["admin", "compliance"], reason }))).toBe("OK");
  });
});

describePostgres("users.setRoles under contention", (db) => {
  it("retries serialization failures: concurrent role changes all succeed, one after another", async () => {
    const admin = callerFor(db(), ["admin"]);
    const { id } = await admin.users.create({ email: `race-${randomUUID()}@test.invalid`, name: "Race", roles: [] });
    const choices = [["clinician"], ["compliance"], ["clinician", "compliance"], []] as const;
    const calls = Array.from({ length: 12 }, (_, i) =>
      codeOf(callerFor(db(), ["admin"]).users.setRoles({ userId: id, roles: [...choices[i % choices.length]!], reason: `change ${i}` })),
    );
    expect(await Promise.all(calls)).toEqual(Array(12).fill("OK"));
    const stored = await readStream(storeOn(db(), eventRegistry), userStream(id));
    const changes = stored.filter((e) => e.type === "UserRolesChanged");
    expect(changes).toHaveLength(12);
    // Serial order: each change starts from the roles the one before left.
    for (let i = 1; i < changes.length; i++) {
      expect((changes[i]!.data as { previousRoles: string[] }).previousRoles).toEqual((changes[i - 1]!.data as { roles: string[] }).roles);
    }
  });

  it("retries serialization failures between changes to different users, whichever statement the database refuses", async () => {
    const admin = callerFor(db(), ["admin"]);
    const ids = await Promise.all(
      Array.from({ length: 4 }, async (_, i) => (await admin.users.create({ email: `race-${i}-${randomUUID()}@test.invalid`, name: `Race ${i}`, roles: [] })).id),
    );
    for (let round = 0; round < 3; round++) {
      const calls = Array.from({ length: 12 }, (_, i) =>
        codeOf(callerFor(db(), ["admin"]).users.setRoles({ userId: ids[i % ids.length]!, roles: i % 2 === round % 2 ? ["clinician"] : ["compliance"], reason: `round ${round} change ${i}` })),
      );
      expect(await Promise.all(calls)).toEqual(Array(12).fill("OK"));
    }
  });
});
