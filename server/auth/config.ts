// Where sign-in's settings come from: the secret, the public URL and the sign-in rate limit.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { EnvError, type Env } from "../db/env";
import { componentLogger } from "../log";

export type AuthConfig = {
  secret: string;
  /** A fixed public origin, or null: any port on localhost / 127.0.0.1 / [::1] over http. */
  baseURL: string | null;
  /** Sign-in attempts per client address per minute. */
  signInPerMinute: number;
};

export const devSecretFile = join(/*turbopackIgnore: true*/ process.cwd(), ".data", "auth-secret");

let warned = false;

/**
 * BETTER_AUTH_SECRET when set. Otherwise a random secret made once per install and kept in
 * .data/auth-secret (mode 600), so sessions survive restarts. A production process may reuse a
 * file that a development start-up (npm start) made, but never makes one itself.
 */
export function resolveAuthSecret(e: Pick<Env, "BETTER_AUTH_SECRET" | "NODE_ENV" | "DATABASE_URL">, file = devSecretFile): string {
  if (e.BETTER_AUTH_SECRET) return e.BETTER_AUTH_SECRET;
  const read = () => (existsSync(/*turbopackIgnore: true*/ file) ? readFileSync(/*turbopackIgnore: true*/ file, "utf8").trim() : "");
  let secret = read();
  if (secret.length >= 32) {
    if (e.NODE_ENV === "production" && e.DATABASE_URL && !warned) {
      warned = true;
      componentLogger("auth").warn({ file }, "BETTER_AUTH_SECRET is not set: using the development secret in this file");
    }
    return secret;
  }
  if (e.NODE_ENV === "production") {
    throw new EnvError(
      "Invalid configuration:\n  BETTER_AUTH_SECRET: required in production (at least 32 characters, e.g. `openssl rand -base64 32`)",
    );
  }
  mkdirSync(/*turbopackIgnore: true*/ dirname(file), { recursive: true });
  try {
    // "wx": when two processes start together, the first one's secret wins.
    writeFileSync(/*turbopackIgnore: true*/ file, randomBytes(32).toString("base64url"), { flag: "wx", mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  secret = read();
  if (secret.length < 32) throw new EnvError(`Invalid configuration:\n  ${file}: too short; delete it to make a new one`);
  return secret;
}

export function authConfigFromEnv(e: Env): AuthConfig {
  return {
    secret: resolveAuthSecret(e),
    baseURL: e.BETTER_AUTH_URL?.replace(/\/$/, "") ?? null,
    signInPerMinute: e.AUTH_SIGNIN_RATE_LIMIT,
  };
}

/** Demo users: seeded unless NODE_ENV=production, where only SEED_DEMO_USERS=true seeds them. */
export function shouldSeedDemoUsers(e: Pick<Env, "NODE_ENV" | "SEED_DEMO_USERS">): boolean {
  if (e.SEED_DEMO_USERS) return e.SEED_DEMO_USERS === "true";
  return e.NODE_ENV !== "production";
}
