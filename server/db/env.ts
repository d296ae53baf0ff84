// Environment, validated once at boot. A bad value stops start-up with a message naming it.
import { createPrivateKey, createPublicKey } from "node:crypto";
import { z } from "zod";
import { parseTrustedProxies } from "../auth/clientAddress";
import { DEFAULT_DRAIN_SECONDS } from "../cli/drain";
import { parseMasterKey } from "../eventStore/phi";
import { embeddedFolderOf } from "./embeddedLock";

const postgresUrl = z
  .string()
  .trim()
  .refine((v) => /^postgres(ql)?:\/\/.+/.test(v), "must be a postgresql:// connection URL");

const emptyToUndefined = (v: unknown) => (typeof v === "string" && v.trim() === "" ? undefined : v);

/**
 * Whole numbers in plain decimal digits only. z.coerce.number() took anything Number() takes, so
 * DB_POOL_MAX=0x10 meant 16, PORT=3e3 meant 3000 and a blank value 0. A blank value is unset
 * (the default), as for every other setting; anything but digits stays a string and is refused.
 */
const plainInteger = (v: unknown) => {
  const set = emptyToUndefined(v);
  if (typeof set !== "string") return set;
  const trimmed = set.trim();
  return /^\d+$/.test(trimmed) ? Number(trimmed) : trimmed;
};

const integerMessage = "must be a whole number in decimal digits";

const intFrom = (min: number, max: number, fallback: number) =>
  z.preprocess(plainInteger, z.number({ error: integerMessage }).int(integerMessage).min(min).max(max).default(fallback));

const portMessage = "must be a port number (1-65535)";

/** The PEM text of AUDIT_SIGNING_KEY: as given (escaped newlines restored), or base64 of the PEM. */
export function signingKeyPemOf(text: string): string {
  const pem = text.replace(/\\n/g, "\n");
  return pem.includes("-----BEGIN") ? pem : Buffer.from(pem.trim(), "base64").toString("utf8");
}

/**
 * The PEM texts of AUDIT_VERIFY_PUBLIC_KEYS (or of a --public-key file): one or more public keys
 * in PEM, one after another (newlines escaped or not), or each PEM in base64, comma-separated.
 */
export function publicKeyPemsOf(text: string): string[] {
  const pem = text.replace(/\\n/g, "\n");
  if (pem.includes("-----BEGIN")) return pem.match(/-----BEGIN [A-Z ]+-----[\s\S]*?-----END [A-Z ]+-----/g) ?? [pem];
  return pem
    .split(",")
    .map((k) => k.trim())
    .filter((k) => k !== "")
    .map((k) => Buffer.from(k, "base64").toString("utf8"));
}

/** What is wrong with a list of public keys, in words, or null when each is an Ed25519 public key. */
export function publicKeysProblem(text: string): string | null {
  const pems = publicKeyPemsOf(text);
  if (pems.length === 0) return "names no key";
  for (const [i, pem] of pems.entries()) {
    let type: string | undefined;
    try {
      type = createPublicKey(pem).asymmetricKeyType;
    } catch {
      type = undefined;
    }
    if (type !== "ed25519") return `key ${i + 1} of ${pems.length} is not an Ed25519 public key in PEM (openssl pkey -in old-key.pem -pubout)`;
  }
  return null;
}

export const envSchema = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  DATABASE_URL: z.preprocess(emptyToUndefined, postgresUrl.optional()),
  /**
   * The owner's connection URL, for migrations only. Set it when the app's DATABASE_URL names the
   * restricted role (emr_app), as it should in production. Unset: migrations use DATABASE_URL.
   */
  MIGRATION_DATABASE_URL: z.preprocess(emptyToUndefined, postgresUrl.optional()),
  /** Where the embedded database keeps its files when DATABASE_URL is unset. */
  PGLITE_DIR: z
    .string()
    .trim()
    .min(1, "must name a folder")
    .refine((dir) => {
      try {
        embeddedFolderOf(dir);
        return true;
      } catch {
        return false;
      }
    }, "must name a folder (a browser's storage is not one)")
    .default(".data/pglite"),
  DB_POOL_MAX: intFrom(1, 200, 10),
  /**
   * Seconds an idle pooled connection is kept before it is closed; 0 (the default): kept until
   * the process ends. A new connection's backend is cold (PL/pgSQL compiled, statements planned
   * and catalogs cached again on first use): closing idle ones made the first burst after a
   * quiet spell wait on up to DB_POOL_MAX cold backends at once (client.ts).
   */
  DB_POOL_IDLE_SECONDS: intFrom(0, 86_400, 0),
  /**
   * Seconds a request waits for a pooled connection (or for a new one to open) before it is
   * answered 503 SERVICE_UNAVAILABLE. Without a bound, an exhausted pool queued requests, sign-in
   * included, for as long as the holders took.
   */
  DB_POOL_WAIT_SECONDS: intFrom(1, 600, 10),
  /**
   * Seconds a statement of the app's pool may take before it is cut, on the server
   * (statement_timeout) and, 5 s later, in the client when the server cannot answer (a network
   * black hole); answered 503, its transaction rolled back. 0: no bound. Long work (the integrity
   * check, rebuilds' index builds, extracts) runs on connections without it (client.ts longSql).
   */
  DB_STATEMENT_TIMEOUT_SECONDS: intFrom(0, 3600, 30),
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
  /** Failed sign-ins allowed per account (email) per 15 minutes, counted across instances. */
  AUTH_SIGNIN_ACCOUNT_LIMIT: intFrom(1, 10_000, 10),
  /** How long an enrolment link (a new account's, or after an admin's password reset) stays usable. */
  ENROLMENT_LINK_HOURS: intFrom(1, 720, 72),
  /** Reverse proxies in front: unset (none), a hop count, or their addresses/CIDR ranges (server/auth/clientAddress.ts). */
  TRUSTED_PROXIES: z.preprocess(emptyToUndefined, z.string().trim().optional()).superRefine((v, c) => {
    try {
      parseTrustedProxies(v);
    } catch (error) {
      c.addIssue({ code: "custom", message: `must be a hop count or comma-separated proxy addresses: ${(error as Error).message}` });
    }
  }),
  /**
   * Seed the demo users (one per role). Default: yes, except when NODE_ENV=production, where
   * `true` also needs SEED_DEMO_USERS_IN_PRODUCTION=true: they include an admin whose password is
   * published in this repository.
   */
  SEED_DEMO_USERS: z.preprocess(emptyToUndefined, z.enum(["true", "false"]).optional()),
  /** Acknowledges demo users (published passwords) on a production build: throwaway benchmarks only. */
  SEED_DEMO_USERS_IN_PRODUCTION: z.preprocess(emptyToUndefined, z.enum(["true", "false"]).optional()),
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
  /**
   * Ed25519 private key (PEM) that signs the audit log's seals; kept out of the database. Unset:
   * a development key in .data/ (outside production), or no sealing (production).
   */
  AUDIT_SIGNING_KEY: z.preprocess(
    // PEM arrives from env files with its newlines escaped, or as base64 of the PEM (one line).
    (v) => {
      const set = emptyToUndefined(v);
      return typeof set === "string" ? signingKeyPemOf(set) : set;
    },
    z
      .string()
      .refine((v) => {
        try {
          return createPrivateKey(v).asymmetricKeyType === "ed25519";
        } catch {
          return false;
        }
      }, "must be an Ed25519 private key in PEM, or that PEM in base64 (openssl genpkey -algorithm ed25519)")
      .optional(),
  ),
  /**
   * Public keys of earlier signing keys, so seals signed before a rotation still verify: Ed25519
   * public keys in PEM one after another, or each PEM in base64, comma-separated. The signing
   * key's own public half is always used as well.
   */
  AUDIT_VERIFY_PUBLIC_KEYS: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .superRefine((v, c) => {
        const problem = publicKeysProblem(v);
        if (problem) c.addIssue({ code: "custom", message: `must be Ed25519 public keys in PEM, or each PEM in base64, comma-separated: ${problem}` });
      })
      .optional(),
  ),
  /**
   * Where the audit sealer keeps the newest seal it signed, outside the database (server/audit/witness.ts).
   * Default .data/audit-witness.json. Keep it where the database's owner cannot write.
   */
  AUDIT_WITNESS_FILE: z.preprocess(emptyToUndefined, z.string().min(1).optional()),
  /**
   * The key-encryption key of PHI (32 bytes, base64: `openssl rand -base64 32`): wraps every
   * patient's data key. Required in production; elsewhere one is made once in .data/phi-master-key.
   */
  PHI_MASTER_KEY: z.preprocess(
    emptyToUndefined,
    z.string().refine((v) => parseMasterKey(v) !== null, "must be 32 bytes in base64 (openssl rand -base64 32)").optional(),
  ),
  /** Older master keys (comma-separated), only to unwrap data keys during a rotation (npm run keys:rotate). */
  PHI_MASTER_KEY_PREVIOUS: z.preprocess(
    emptyToUndefined,
    z
      .string()
      .refine((v) => v.split(",").every((k) => parseMasterKey(k) !== null), "must be comma-separated 32-byte base64 keys")
      .optional(),
  ),
  /** How long a process trusts a cached patient data key: another process's erasure reaches it within this. */
  PHI_KEY_CACHE_SECONDS: intFrom(0, 3600, 60),
  /** How often the projection runner polls the log when nothing wakes it (it also runs where the outbox worker runs). */
  PROJECTIONS_POLL_MS: intFrom(50, 3_600_000, 1000),
  /** Bearer secret of POST/GET /api/cron/outbox. Unset: that route answers 503. */
  CRON_SECRET: z.preprocess(emptyToUndefined, z.string().min(16, "must be at least 16 characters").optional()),
  /** The console's port (npm start, next start). */
  PORT: z.preprocess(
    plainInteger,
    z.number({ error: portMessage }).int(portMessage).min(1, portMessage).max(65_535, portMessage).default(3000),
  ),
  /**
   * Seconds the console's server (serve.ts) drains on SIGTERM/SIGINT (answers in flight finished,
   * keep-alive connections ended) before it closes the connections left and exits anyway. Keep it
   * under the orchestrator's grace period, less about 5 s for Next's close.
   */
  SHUTDOWN_DRAIN_SECONDS: intFrom(1, 3600, DEFAULT_DRAIN_SECONDS),
  /** Bearer token of GET /api/metrics (and the worker's metrics port). Unset: /api/metrics answers 503. */
  METRICS_TOKEN: z.preprocess(emptyToUndefined, z.string().min(16, "must be at least 16 characters").optional()),
  /** Where a separate worker process serves GET /metrics (0: not at all). */
  WORKER_METRICS_PORT: intFrom(0, 65_535, 9464),
  /** Processed outbox rows are deleted this many days after publishing. */
  OUTBOX_RETENTION_DAYS: intFrom(1, 3650, 7),
  /** Structured log level (pino). */
  LOG_LEVEL: z.preprocess(emptyToUndefined, z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info")),
});

export type Env = z.infer<typeof envSchema>;

export class EnvError extends Error {
  override readonly name = "EnvError";
}

/**
 * Rules across settings, checked on the raw values (so they are reported alongside the schema's
 * own problems) and outside the schema (so it stays extendable).
 */
/**
 * Whether this process holds the app's secrets: the console, the workers and the CLIs that read or
 * write patient data do. A command that needs neither (db:migrate, audit:verify) says so first,
 * so its operator (a DBA, an auditor) is not handed the session secret or the PHI master key.
 */
let appSecretsNeeded = true;
export function withoutAppSecrets(): void {
  appSecretsNeeded = false;
  cached = undefined;
}

function crossChecks(source: Record<string, string | undefined>): string[] {
  const problems: string[] = [];
  // Never the development secret in .data/auth-secret: whoever can read that folder could forge sessions.
  if (appSecretsNeeded && source.NODE_ENV === "production" && !source.BETTER_AUTH_SECRET?.trim()) {
    problems.push("BETTER_AUTH_SECRET: required when NODE_ENV=production (at least 32 characters, e.g. `openssl rand -base64 32`)");
  }
  // Never a generated key file in production: a dump of the disk would then hold the key too.
  if (appSecretsNeeded && source.NODE_ENV === "production" && !source.PHI_MASTER_KEY?.trim()) {
    problems.push("PHI_MASTER_KEY: required when NODE_ENV=production (32 bytes in base64, e.g. `openssl rand -base64 32`); it encrypts every patient's data key");
  }
  // The demo users include an admin whose password is in this repository: on a production
  // build that is an open door unless someone says, in so many words, that it is a throwaway.
  if (source.NODE_ENV === "production" && source.SEED_DEMO_USERS?.trim() === "true" && source.SEED_DEMO_USERS_IN_PRODUCTION?.trim() !== "true") {
    problems.push(
      "SEED_DEMO_USERS: true is refused when NODE_ENV=production: it seeds an admin whose password is published; for a throwaway benchmark or demo also set SEED_DEMO_USERS_IN_PRODUCTION=true",
    );
  }
  return problems;
}

export function parseEnv(source: Record<string, string | undefined>): Env {
  const result = envSchema.safeParse(source);
  const problems = [...(result.success ? [] : result.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`)), ...crossChecks(source)];
  if (!result.success || problems.length > 0) {
    throw new EnvError(`Invalid configuration:\n${problems.map((p) => `  ${p}`).join("\n")}`);
  }
  return result.data;
}

let cached: Env | undefined;
/** The process environment, parsed on first use. */
export function env(): Env {
  cached ??= parseEnv(process.env);
  return cached;
}
