// npm run users:create: the first admin of an install without demo users, from the command line.
import { spawnSync } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { join } from "node:path";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { describePostgres, pgUrl } from "../testing/db";
import { readStream, storeOn } from "../eventStore";
import { eventRegistry } from "../domain/registry";
import { userStream } from "../domain/user/events";
import { lookupEnrolmentLink } from "../api/enrolment";
import { parseCreateUserArgs } from "./createUser";

const tsx = join(process.cwd(), "node_modules", ".bin", "tsx");

function run(args: string[], stdin: string) {
  const result = spawnSync(tsx, ["server/cli/createUser.ts", ...args], {
    input: stdin,
    encoding: "utf8",
    env: { ...process.env, DATABASE_URL: pgUrl ?? "", BETTER_AUTH_SECRET: "test-secret-0123456789-0123456789-abcdef", PHI_MASTER_KEY: randomBytes(32).toString("base64"), NODE_ENV: "production" },
    timeout: 60_000,
  });
  return { code: result.status, out: result.stdout, err: result.stderr };
}

describe("users:create arguments", () => {
  it("takes email, name and roles, and never a password", () => {
    expect(parseCreateUserArgs(["--email", "A@B.org", "--name", "Ada", "--role", "admin"])).toEqual({ email: "A@B.org", name: "Ada", roles: ["admin"], enrol: false });
    expect(parseCreateUserArgs(["--email", "a@b.org", "--name", "Ada", "--role", "clinician", "--enrol"]).enrol).toBe(true);
    expect(parseCreateUserArgs(["--email", "a@b.org", "--name", "Ada", "--role", "clinician,compliance"]).roles).toEqual(["clinician", "compliance"]);
    expect(() => parseCreateUserArgs(["--email", "a@b.org", "--name", "Ada", "--role", "admin", "--password", "x"])).toThrow(/never taken from the command line/);
    expect(() => parseCreateUserArgs(["--email", "a@b.org", "--name", "Ada", "--role", "admin", "--password=x"])).toThrow(/never taken/);
    expect(() => parseCreateUserArgs(["--email", "nope", "--name", "Ada", "--role", "admin"])).toThrow(/--email must be an email/);
    expect(() => parseCreateUserArgs(["--email", "a@b.org", "--name", "Ada"])).toThrow(/at least one --role/);
    expect(() => parseCreateUserArgs(["--email", "a@b.org", "--name", "Ada", "--role", "root"])).toThrow();
    expect(() => parseCreateUserArgs(["--email", "a@b.org", "--bogus"])).toThrow(/usage/);
  });
});

describePostgres("users:create", (db) => {
  it("creates an admin with the password from stdin, with its UserCreated event by the system, and refuses the same email again", async () => {
    const email = `first-admin-${randomUUID()}@test.invalid`;
    const before = await db().sql<{ process_id: string }>(`SELECT DISTINCT process_id FROM metric_rollups`, []);
    const made = run(["--email", email, "--name", "First Admin", "--role", "admin"], "a long enough password\n");
    expect(made.err).toBe("");
    expect(made.code).toBe(0);
    expect(made.out).toContain(`created ${email}`);
    const user = await db().prisma.user.findUnique({ where: { email }, select: { id: true, roles: true, accounts: { select: { providerId: true, password: true } } } });
    expect(user?.roles).toEqual(["admin"]);
    expect(user?.accounts).toEqual([{ providerId: "credential", password: expect.not.stringContaining("a long enough password") }]);
    const events = await readStream(storeOn(db(), eventRegistry), userStream(user!.id));
    expect(events.map((e) => [e.type, e.metadata.userId])).toEqual([["UserCreated", "system:users-cli"]]);
    // Its append is on Admin → Metrics: the script wrote its minute before it closed the database.
    // (tsx runs the script in a child process, so its pid is not ours to name: the script's rows
    // are those of a process that had none before it ran; other files' processes may add theirs.)
    const appended = await db().sql<{ n: number }>(
      `SELECT sum(value)::float8 AS n FROM metric_rollups
        WHERE metric = 'events_appended' AND NOT (process_id = ANY($1::text[])) GROUP BY process_id`,
      [before.map((r) => r.process_id)],
    );
    expect(appended.map((r) => r.n)).toContain(1);

    const again = run(["--email", email.toUpperCase(), "--name", "Again", "--role", "admin"], "a long enough password\n");
    expect(again.code).toBe(1);
    expect(again.err).toContain(`A user with the email ${email} already exists`);
    expect(await db().prisma.user.count({ where: { email } })).toBe(1);
  });

  it("exits within seconds when its metric minute cannot be written: the write gives up on a lock held elsewhere, warns, and the user is created", async () => {
    const email = `locked-metrics-${randomUUID()}@test.invalid`;
    const holder = new pg.Client({ connectionString: pgUrl ?? undefined });
    await holder.connect();
    try {
      await holder.query("BEGIN");
      await holder.query("LOCK TABLE metric_rollups IN ACCESS EXCLUSIVE MODE");
      const t0 = Date.now();
      const made = run(["--email", email, "--name", "Locked Metrics", "--role", "clinician"], "a long enough password\n");
      expect(made.code, made.err).toBe(0);
      expect(Date.now() - t0).toBeLessThan(30_000);
      expect(made.out).toContain(`created ${email}`);
      expect(made.out + made.err).toContain("metric rollups not written");
    } finally {
      await holder.query("ROLLBACK").catch(() => {});
      await holder.end();
    }
    expect(await db().prisma.user.count({ where: { email } })).toBe(1);
  }, 90_000);

  it("with --enrol asks no password and prints a one-time link at which the user sets their own", async () => {
    const email = `enrolled-${randomUUID()}@test.invalid`;
    // Nothing on stdin: a password is not read.
    const made = run(["--email", email, "--name", "Link User", "--role", "clinician", "--enrol"], "");
    expect(made.err).toBe("");
    expect(made.code).toBe(0);
    const token = /^http:\/\/localhost:3000\/enrol#([A-Za-z0-9_-]{40,})$/m.exec(made.out)?.[1];
    expect(token, made.out).toBeDefined();
    const user = await db().prisma.user.findUnique({ where: { email }, select: { id: true, accounts: { select: { providerId: true } } } });
    expect(user?.accounts).toEqual([]);
    expect(await lookupEnrolmentLink(db(), token!)).toMatchObject({ status: "valid", email });
    const events = await readStream(storeOn(db(), eventRegistry), userStream(user!.id));
    expect(events.map((e) => [e.type, e.metadata.userId])).toEqual([
      ["UserCreated", "system:users-cli"],
      ["UserEnrolmentIssued", "system:users-cli"],
    ]);
    // The event says a link was issued, never what it is.
    expect(JSON.stringify(events)).not.toContain(token!);
  });

  it("refuses a short password and a password on the command line, creating nothing", async () => {
    const email = `short-${randomUUID()}@test.invalid`;
    const short = run(["--email", email, "--name", "Short", "--role", "admin"], "short\n");
    expect(short.code).toBe(1);
    expect(short.err).toMatch(/password must be 10 to 128 characters/);
    const argv = run(["--email", email, "--name", "Argv", "--role", "admin", "--password", "a long enough password"], "");
    expect(argv.code).toBe(1);
    expect(argv.err).toMatch(/never taken from the command line/);
    expect(await db().prisma.user.count({ where: { email } })).toBe(0);
  });
});
