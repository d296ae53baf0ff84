// Where sign-in's settings come from: the secret, the public URL and the sign-in rate limit.
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { makeDevFileOnce } from "../db/devFile";
import { EnvError, type Env } from "../db/env";

export type AuthConfig = {
  secret: string;
  /** A fixed public origin, or null: any port on localhost / 127.0.0.1 / [::1] over http. */
  baseURL: string | null;
  /** Failed sign-ins per client address per minute (a fixed window, addressLimit.ts). */
  signInPerMinute: number;
  /** The per-address window in seconds (default 60; shorter in tests). */
  addressWindowSeconds?: number;
  /** Failed sign-ins per account per 15 minutes (default 10). */
  accountFailureLimit?: number;
  /** TRUSTED_PROXIES as configured (default: none, the socket's address). */
  trustedProxies?: string;
};

export const devSecretFile = join(/*turbopackIgnore: true*/ process.cwd(), ".data", "auth-secret");

/**
 * BETTER_AUTH_SECRET when set. Otherwise, outside production, a random secret made once per
 * install and kept in .data/auth-secret (mode 600), so sessions survive restarts. Production
 * never uses that file, even one an earlier development start left behind: parseEnv already
 * refuses NODE_ENV=production without BETTER_AUTH_SECRET, and this refuses it again for callers
 * that build an Env by hand. npm start hands the development secret to its `next start` child
 * explicitly (server/cli/start.ts).
 */
export function resolveAuthSecret(e: Pick<Env, "BETTER_AUTH_SECRET" | "NODE_ENV">, file = devSecretFile): string {
  if (e.BETTER_AUTH_SECRET) return e.BETTER_AUTH_SECRET;
  if (e.NODE_ENV === "production") {
    throw new EnvError(
      "Invalid configuration:\n  BETTER_AUTH_SECRET: required when NODE_ENV=production (at least 32 characters, e.g. `openssl rand -base64 32`)",
    );
  }
  const read = () => (existsSync(/*turbopackIgnore: true*/ file) ? readFileSync(/*turbopackIgnore: true*/ file, "utf8").trim() : "");
  let secret = read();
  if (secret.length >= 32) return secret;
  makeDevFileOnce(file, () => randomBytes(32).toString("base64url"));
  secret = read();
  if (secret.length < 32) throw new EnvError(`Invalid configuration:\n  ${file}: too short; delete it to make a new one`);
  return secret;
}

export function authConfigFromEnv(e: Env): AuthConfig {
  return {
    secret: resolveAuthSecret(e),
    baseURL: e.BETTER_AUTH_URL?.replace(/\/$/, "") ?? null,
    signInPerMinute: e.AUTH_SIGNIN_RATE_LIMIT,
    accountFailureLimit: e.AUTH_SIGNIN_ACCOUNT_LIMIT,
    trustedProxies: e.TRUSTED_PROXIES,
  };
}

/** Demo users: seeded unless NODE_ENV=production, where only SEED_DEMO_USERS=true seeds them. */
export function shouldSeedDemoUsers(e: Pick<Env, "NODE_ENV" | "SEED_DEMO_USERS">): boolean {
  if (e.SEED_DEMO_USERS) return e.SEED_DEMO_USERS === "true";
  return e.NODE_ENV !== "production";
}
