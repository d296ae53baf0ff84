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
  AMQP_URL: z.preprocess(
    emptyToUndefined,
    z.string().refine((v) => /^amqps?:\/\/.+/.test(v), "must be an amqp:// URL").optional(),
  ),
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
