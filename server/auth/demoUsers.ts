// Demo users, one per role, for the embedded demo (npm start). Never seeded when
// NODE_ENV=production unless SEED_DEMO_USERS=true; SEED_DEMO_USERS=false turns them off anywhere.
import type { Database } from "../db/client";
import type { Env } from "../db/env";
import { createAuth, createUserWithPassword, type Auth } from ".";
import { authConfigFromEnv, shouldSeedDemoUsers } from "./config";
import type { Role } from "./roles";

export const DEMO_PASSWORD = "demo-password-2026";

export const demoUsers: { email: string; name: string; roles: Role[] }[] = [
  { email: "clinician@demo.test", name: "Casey Clinician", roles: ["clinician"] },
  { email: "compliance@demo.test", name: "Morgan Compliance", roles: ["compliance"] },
  { email: "admin@demo.test", name: "Alex Admin", roles: ["admin"] },
];

export type SeedOptions = { auth?: Auth; log?: (line: string) => void };

/** Creates the demo users that are missing (existing ones are left as they are). */
export async function seedDemoUsers(db: Database, e: Env, options: SeedOptions = {}): Promise<{ created: number; seeded: boolean }> {
  const log = options.log ?? ((line: string) => console.log(line));
  if (!shouldSeedDemoUsers(e)) return { created: 0, seeded: false };
  const auth = options.auth ?? createAuth(db, authConfigFromEnv(e));
  const existing = await db.prisma.user.findMany({
    where: { email: { in: demoUsers.map((u) => u.email) } },
    select: { id: true, email: true, accounts: { select: { id: true } }, enrolment: { select: { userId: true } } },
  });
  const have = new Map(existing.map((u) => [u.email, u]));
  let created = 0;
  for (const user of demoUsers) {
    const stored = have.get(user.email);
    if (!stored) {
      await createUserWithPassword(auth, { ...user, password: DEMO_PASSWORD });
      created += 1;
    } else if (stored.accounts.length === 0 && !stored.enrolment) {
      // Created, but its password never linked: a start stopped between the two writes. Without
      // this the demo user could never sign in, and no start would say why. (A user an admin
      // sent an enrolment link to has no password either, and is left to it.)
      const ctx = await auth.$context;
      await ctx.internalAdapter.linkAccount({ userId: stored.id, providerId: "credential", accountId: stored.id, password: await ctx.password.hash(DEMO_PASSWORD) });
      created += 1;
    }
  }
  log(`demo users (password ${DEMO_PASSWORD}${created ? `; ${created} created` : ""}):`);
  for (const user of demoUsers) log(`  ${user.roles.join(", ").padEnd(11)} ${user.email}`);
  return { created, seeded: true };
}
