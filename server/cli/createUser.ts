// npm run users:create -- --email a@b.org --name "A B" --role admin [--enrol]
// Creates a console user (the first admin of a production install, where no demo users exist)
// through the same one-transaction path as the admin screen, attributed to the system. The
// password is typed without echo on a terminal, or read from stdin (first line); never from the
// command line, where it would stay in the shell's history and the process list. With --enrol no
// password is asked: the account gets a one-time enrolment link, printed once, which its user
// opens to set their own (as an account made on the admin screen does), so the operator who ran
// the command never knows it.
import { parseArgs } from "node:util";
import { z } from "zod";
import { openDatabase } from "../db/client";
import { env } from "../db/env";
import { migrationStatus } from "../db/migrate";
import { createAuth, MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from "../auth";
import { authConfigFromEnv } from "../auth/config";
import { roleSchema, type Role } from "../auth/roles";
import { createUserAccount, systemActor } from "../api/userAccounts";
import { enrolmentUrl } from "../../shared/enrolment";
import { flushRollupsAtExit } from "../metrics/rollups";

const usage = `usage: npm run users:create -- --email <email> --name <name> --role <clinician|compliance|admin> [--role ...] [--enrol]
  The password is asked for (without echo) on a terminal, or read from stdin:
    printf '%s\\n' "$PASSWORD" | npm run users:create -- --email ... --name ... --role admin
  --enrol: no password; prints a one-time link (ENROLMENT_LINK_HOURS) at which the user sets their own`;

export class UsageError extends Error {
  override readonly name = "UsageError";
}

const argsSchema = z.object({
  email: z.email("--email must be an email address").max(254),
  name: z.string().trim().min(1, "--name is required").max(100),
  roles: z.array(roleSchema).min(1, "give at least one --role").max(3),
});

export function parseCreateUserArgs(argv: string[]): { email: string; name: string; roles: Role[]; enrol: boolean } {
  if (argv.some((a) => a === "--password" || a.startsWith("--password="))) {
    throw new UsageError("the password is never taken from the command line (it would stay in the shell history): type it when asked, or pipe it to stdin");
  }
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { email: { type: "string" }, name: { type: "string" }, role: { type: "string", multiple: true }, enrol: { type: "boolean" } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n${usage}`);
  }
  const roles = [...new Set((values.role ?? []).flatMap((r) => r.split(",")).map((r) => r.trim()).filter(Boolean))];
  const parsed = argsSchema.safeParse({ email: values.email ?? "", name: values.name ?? "", roles });
  if (!parsed.success) throw new UsageError(`${parsed.error.issues.map((i) => i.message).join("\n")}\n${usage}`);
  return { ...parsed.data, enrol: values.enrol === true };
}

/** Reads lines from the terminal without echoing them (typed-ahead input is kept for the next). */
function hiddenReader() {
  const input = process.stdin;
  let pending = "";
  return (question: string): Promise<string> =>
    new Promise((resolve, reject) => {
      process.stderr.write(question);
      input.setRawMode(true);
      input.setEncoding("utf8");
      let value = "";
      const finish = (error?: Error) => {
        input.setRawMode(false);
        input.pause();
        input.removeListener("data", take);
        process.stderr.write("\n");
        if (error) reject(error);
        else resolve(value);
      };
      const take = (chunk: string) => {
        const text = pending + chunk;
        pending = "";
        for (let i = 0; i < text.length; i++) {
          const ch = text[i]!;
          if (ch === "\r" || ch === "\n") {
            pending = text.slice(i + 1).replace(/^\n/, "");
            return finish();
          }
          if (ch === "\u0003") return finish(new UsageError("cancelled"));
          if (ch === "\u007f" || ch === "\b") value = value.slice(0, -1);
          else if (ch >= " ") value += ch;
        }
      };
      input.on("data", take);
      input.resume();
      if (pending) take("");
    });
}

async function readStdinLine(): Promise<string> {
  let text = "";
  for await (const chunk of process.stdin) text += String(chunk);
  return text.split(/\r?\n/)[0] ?? "";
}

async function readPassword(): Promise<string> {
  if (!process.stdin.isTTY) return readStdinLine();
  const ask = hiddenReader();
  const first = await ask("Password: ");
  const again = await ask("Password again: ");
  if (first !== again) throw new UsageError("the passwords differ");
  return first;
}

async function main() {
  const { enrol, ...args } = parseCreateUserArgs(process.argv.slice(2));
  const password = enrol ? undefined : await readPassword();
  if (password !== undefined && (password.length < MIN_PASSWORD_LENGTH || password.length > MAX_PASSWORD_LENGTH)) {
    throw new UsageError(`the password must be ${MIN_PASSWORD_LENGTH} to ${MAX_PASSWORD_LENGTH} characters`);
  }
  const e = env();
  const db = await openDatabase({ url: e.DATABASE_URL, dataDir: e.PGLITE_DIR, poolMax: 1 });
  try {
    const status = await migrationStatus(db);
    if (status.pending.length > 0) throw new UsageError(`the database has ${status.pending.length} pending migrations: run npm run db:migrate first`);
    const { id, enrolment } = await createUserAccount(db, createAuth(db, authConfigFromEnv(e)), { ...args, ...(password !== undefined ? { password } : {}) }, systemActor());
    console.log(`created ${args.email.toLowerCase()} (${args.roles.join(", ")}), user id ${id}`);
    if (enrolment) {
      console.log(`enrolment link (give it to the user only; it works once, until ${enrolment.expiresAt.toISOString()}):`);
      console.log(enrolmentUrl(e.BETTER_AUTH_URL ?? `http://localhost:${e.PORT}`, enrolment.token));
    }
  } finally {
    await flushRollupsAtExit(db.prisma);
    await db.close();
  }
}

if (process.argv[1] && /createUser\.ts$/.test(process.argv[1])) {
  main().catch((error: unknown) => {
    console.error(`users:create: ${(error as Error).message}`);
    process.exit(1);
  });
}
