// Environment, validated once at boot. A bad value stops start-up with a message naming it.
import { z } from "zod";

const postgresUrl = z
  .string()
  .trim()
  .refine((v) => /^postgres(ql)?:\/\/.+/.test(v), "must be a postgresql:// connection URL");

const intFrom = (min: number, max: number, fallback: number) =>
  z.coerce.number().int().min(min).max(max).default(fallback);

const emptyToUndefined = (v: unknown) => (typeof v === "string" && v.trim() === "" ? undefined : v);

export const envSchema = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  DATABASE_URL: z.preprocess(emptyToUndefined, postgresUrl.optional()),
  /** Where the embedded database keeps its files when DATABASE_URL is unset. */
  PGLITE_DIR: z.string().min(1).default(".data/pglite"),
  DB_POOL_MAX: intFrom(1, 200, 10),
  EVENTSTORE_SNAPSHOT_EVERY: intFrom(2, 100_000, 50),
  /** Synthetic patients that npm start / db:seed create (0: none). */
  DEMO_PATIENTS: intFrom(0, 100_000, 200),
  /**
   * Signs session cookies. Required in production; elsewhere a random one is made once and kept
   * in .data/auth-secret so sessions survive restarts (server/auth/config.ts).
   */
  BETTER_AUTH_SECRET: z.preprocess(emptyToUndefined, z.string().min(32, "must be at least 32 characters").optional()),
  /** The console's public URL (https://emr.example.org). Unset: localhost and 127.0.0.1 on any port, over http. */
  BETTER_AUTH_URL: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .trim()
      .refine((v) => /^https?:\/\/[^/]+\/?$/.test(v), "must be an origin like https://emr.example.org")
      .optional(),
  ),
  /** More origins allowed to post to /api/auth, comma-separated (read by better-auth itself too). */
  BETTER_AUTH_TRUSTED_ORIGINS: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .refine((v) => v.split(",").every((o) => /^https?:\/\/[^/\s]+$/.test(o.trim())), "must be comma-separated origins")
      .optional(),
  ),
  /** Sign-in attempts allowed per client address per minute. */
  AUTH_SIGNIN_RATE_LIMIT: intFrom(1, 10_000, 10),
  /** Seed the demo users (one per role). Default: yes, except when NODE_ENV=production. */
  SEED_DEMO_USERS: z.preprocess(emptyToUndefined, z.enum(["true", "false"]).optional()),
  /** RabbitMQ for the outbox worker (amqp[s]://user:pass@host:5672/vhost). Unset: in-process handlers only. */
  AMQP_URL: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .trim()
      .refine((v) => /^amqps?:\/\/.+/.test(v), "must be an amqp:// or amqps:// URL")
      .optional(),
  ),
  /** How often the outbox worker (npm run worker:outbox) polls for due rows. */
  /** "inline": drain the outbox inside the app's process (npm start sets it). "off": a separate worker or the cron route does. */
  OUTBOX_WORKER: z.preprocess(emptyToUndefined, z.enum(["off", "inline"]).default("off")),
  OUTBOX_POLL_MS: intFrom(50, 3_600_000, 1000),
  /** How often the projection runner polls the log when nothing wakes it (it also runs where the outbox worker runs). */
  PROJECTIONS_POLL_MS: intFrom(50, 3_600_000, 1000),
  /** Bearer secret of POST/GET /api/cron/outbox. Unset: that route answers 503. */
  CRON_SECRET: z.preprocess(emptyToUndefined, z.string().min(16, "must be at least 16 characters").optional()),
});

export type Env = z.infer<typeof envSchema>;

export class EnvError extends Error {
  override readonly name = "EnvError";
}

export function parseEnv(source: Record<string, string | undefined>): Env {
  const result = envSchema.safeParse(source);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new EnvError(`Invalid configuration:\n${lines.join("\n")}`);
  }
  return result.data;
}

let cached: Env | undefined;
/** The process environment, parsed on first use. */
export function env(): Env {
  cached ??= parseEnv(process.env);
  return cached;
}
