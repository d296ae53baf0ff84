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
    select: { email: true },
  });
  const have = new Set(existing.map((u) => u.email));
  let created = 0;
  for (const user of demoUsers) {
    if (have.has(user.email)) continue;
    await createUserWithPassword(auth, { ...user, password: DEMO_PASSWORD });
    created += 1;
  }
  log(`demo users (password ${DEMO_PASSWORD}${created ? `; ${created} created` : ""}):`);
  for (const user of demoUsers) log(`  ${user.roles.join(", ").padEnd(11)} ${user.email}`);
  return { created, seeded: true };
}
