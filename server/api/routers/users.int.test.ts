import { randomUUID } from "node:crypto";
import { beforeAll, expect, it } from "vitest";
import { describeEachDatabase } from "../../testing/db";
import { callerFor, codeOf } from "../../testing/caller";
import { readStream, storeOn } from "../../eventStore";
import { eventRegistry } from "../../domain/registry";
import { userStream } from "../../domain/user/events";

process.env.BETTER_AUTH_SECRET ??= "test-secret-0123456789-0123456789-abcdef";

describeEachDatabase("users (admin)", (db) => {
  const tag = randomUUID().slice(0, 8);
  let admin: ReturnType<typeof callerFor>;

  beforeAll(() => {
    admin = callerFor(db(), ["admin"]);
  });

  it("creates a user with a hashed password, lists it, and refuses a second one with the same email", async () => {
    const email = `New.User-${tag}@Test.invalid`;
    const { id } = await admin.users.create({ email, name: "New User", password: "long enough password", roles: ["clinician"] });
    const listed = await admin.users.list({ search: tag });
    expect(listed).toEqual([expect.objectContaining({ id, email: email.toLowerCase(), name: "New User", roles: ["clinician"] })]);
    expect(listed[0]).not.toHaveProperty("password");
    expect(await codeOf(admin.users.create({ email, name: "Again", password: "long enough password", roles: [] }))).toBe("CONFLICT");
    expect(await codeOf(admin.users.create({ email: `x-${tag}@test.invalid`, name: "Short", password: "short", roles: [] }))).toBe("BAD_REQUEST");
  });

  it("sets roles, refuses unknown or repeated roles, and never removes the last admin", async () => {
    const { id } = await admin.users.create({ email: `roles-${tag}@test.invalid`, name: "Roles", password: "long enough password", roles: [] });
    expect((await admin.users.setRoles({ userId: id, roles: ["compliance", "clinician"] })).roles.sort()).toEqual(["clinician", "compliance"]);
    expect(await codeOf(admin.users.setRoles({ userId: id, roles: ["superuser" as never] }))).toBe("BAD_REQUEST");
    expect(await codeOf(admin.users.setRoles({ userId: id, roles: ["admin", "admin"] }))).toBe("BAD_REQUEST");
    expect(await codeOf(admin.users.setRoles({ userId: "no-such-user", roles: [] }))).toBe("NOT_FOUND");

    // Make this the only admin, then try to take the role away.
    await admin.users.setRoles({ userId: id, roles: ["admin"] });
    const others = await db().prisma.user.findMany({ where: { roles: { has: "admin" }, id: { not: id } }, select: { id: true } });
    for (const other of others) await admin.users.setRoles({ userId: other.id, roles: [] });
    expect(await codeOf(admin.users.setRoles({ userId: id, roles: ["clinician"] }))).toBe("PRECONDITION_FAILED");
    const second = await admin.users.create({ email: `admin2-${tag}@test.invalid`, name: "Second", password: "long enough password", roles: ["admin"] });
    expect(await codeOf(admin.users.setRoles({ userId: id, roles: ["clinician"] }))).toBe("OK");
    expect(second.id).toBeTruthy();
  });

  it("records user creation and role changes as events by the admin who made them", async () => {
    const { id } = await admin.users.create({ email: `audit-${tag}@test.invalid`, name: "Audited", password: "long enough password", roles: [] });
    await admin.users.setRoles({ userId: id, roles: ["clinician"] });
    const events = await readStream(storeOn(db(), eventRegistry), userStream(id));
    expect(events.map((e) => [e.type, e.data])).toEqual([
      ["UserCreated", { userId: id, email: `audit-${tag}@test.invalid`, name: "Audited", roles: [] }],
      ["UserRolesChanged", { userId: id, previousRoles: [], roles: ["clinician"] }],
    ]);
    const adminId = events[0]!.metadata.userId;
    expect(adminId).not.toBe(id);
    expect(events.every((e) => e.metadata.userId === adminId)).toBe(true);
  });
});
