// Sign-in with better-auth: email + password, database sessions in auth_sessions, scrypt password
// hashes, its CSRF (origin) checks and its rate limiter (database storage, so every instance
// counts the same requests); failed sign-ins are limited here, per address and per account. It talks to the database through the project's own Prisma client:
// PGlite is one session, so there must be no second pool.
import { betterAuth } from "better-auth";
import { prismaAdapter } from "better-auth/adapters/prisma";
import type { Database } from "../db/client";
import { env } from "../db/env";
import { isRole, type Role, type SessionUser } from "./roles";
import { authConfigFromEnv, type AuthConfig } from "./config";
import { crossSiteReasonFor } from "./origin";
import { clientAddress, parseTrustedProxies, type TrustedProxies } from "./clientAddress";
import { clearAttempts, releaseAttempt, reserveAttempt } from "./accountLimit";
import { ADDRESS_WINDOW_SECONDS, countAddressAttempt, releaseAddressAttempt } from "./addressLimit";
import { componentLogger, errorFields } from "../log";
import { databaseUnavailableMessage, isDatabaseDiskFull, isDatabaseReadOnly, isDatabaseUnavailable } from "../errors";
import { faultMessage, logDatabaseUnavailable, logServerFault } from "../api/faults";
import { limitBody } from "../api/limitBody";
import { randomUUID } from "node:crypto";
import {
  cacheCookieExpiry,
  cachedSessionIsStale,
  forgetVerified,
  noteSessionChange,
  recallVerified,
  rememberVerified,
  SESSION_CACHE_SECONDS,
  verifiedKey,
} from "./sessionCache";

/** How long a session lasts from sign-in; it is not extended by use. */
export const SESSION_HOURS = 12;
export const MIN_PASSWORD_LENGTH = 10;
export const MAX_PASSWORD_LENGTH = 128;

const localHosts = ["localhost", "localhost:*", "127.0.0.1", "127.0.0.1:*", "[::1]", "[::1]:*"];

/** Where the library's endpoints are served (app/api/auth/[...all]/route.ts). */
const AUTH_BASE_PATH = "/api/auth";

/** Where handleAuthRequest hands better-auth the client's address it resolved (clientAddress.ts). */
const CLIENT_HEADER = "x-emr-client-address";

type AuthSetup = { db: Database; accountFailureLimit: number; addressFailureLimit: number; addressWindowSeconds: number; trustedProxies: TrustedProxies };
const setups = new WeakMap<object, AuthSetup>();

/**
 * Better Auth's log lines as one JSON line each: its message's first line, cut short, and for
 * any error passed along its class and code only (errorFields), never its message.
 */
export function authLog(level: "debug" | "info" | "warn" | "error", message: string, ...args: unknown[]): void {
  const errors = args.filter((a) => a instanceof Error || (typeof a === "object" && a !== null && "name" in a)).map(errorFields);
  const text = String(message).split("\n")[0]!.replace(/\u001b\[[0-9;]*m/g, "").slice(0, 120);
  componentLogger("auth")[level]({ ...(errors.length > 0 ? { errors } : {}) }, text);
}

export function createAuth(db: Database, config: AuthConfig) {
  const auth = buildAuth(db, config);
  setups.set(auth, {
    db,
    accountFailureLimit: config.accountFailureLimit ?? 10,
    addressFailureLimit: config.signInPerMinute,
    addressWindowSeconds: config.addressWindowSeconds ?? ADDRESS_WINDOW_SECONDS,
    trustedProxies: parseTrustedProxies(config.trustedProxies),
  });
  return auth;
}

function buildAuth(db: Database, config: AuthConfig) {
  return betterAuth({
    appName: "EMR Event Store",
    secret: config.secret,
    baseURL: config.baseURL ?? { allowedHosts: localHosts, protocol: "http" },
    basePath: AUTH_BASE_PATH,
    // Its own logger printed multi-line, coloured dumps with the driver's whole message (which can
    // hold a session token or an address typed at sign-in) on stderr, outside the JSON lines.
    logger: { log: authLog },
    database: prismaAdapter(db.prisma, { provider: "postgresql", transaction: true }),
    emailAndPassword: {
      enabled: true,
      // Accounts are made by admins (users.create) or the demo seed, never by sign-up.
      disableSignUp: true,
      minPasswordLength: MIN_PASSWORD_LENGTH,
      maxPasswordLength: MAX_PASSWORD_LENGTH,
    },
    user: {
      modelName: "user",
      additionalFields: {
        // input: false: no endpoint of the library lets a user set their own roles.
        roles: { type: "string[]", required: false, defaultValue: [], input: false },
      },
    },
    session: {
      expiresIn: SESSION_HOURS * 60 * 60,
      disableSessionRefresh: true,
      // A signed copy of the session in a cookie answers requests for a few seconds without the
      // database (sessionCache.ts: what that means for sign-outs and role changes).
      cookieCache: { enabled: true, maxAge: SESSION_CACHE_SECONDS },
    },
    rateLimit: {
      enabled: true,
      storage: "database",
      modelName: "rateLimit",
      window: 60,
      max: 300,
      customRules: {
        // Counted by handleAuthRequest instead, per address in fixed windows (addressLimit.ts):
        // the library starts its count again only after a minute with no attempt at all.
        "/sign-in/email": false,
      },
    },
    // Endpoints this console has no use for are switched off rather than left reachable.
    disabledPaths: [
      "/sign-up/email",
      "/update-user",
      "/change-email",
      "/delete-user",
      "/request-password-reset",
      "/reset-password",
      "/send-verification-email",
      "/verify-email",
    ],
    advanced: {
      cookiePrefix: "emr",
      // Explicit: the library skips both checks when NODE_ENV=test (or TEST is set) otherwise.
      disableCSRFCheck: false,
      disableOriginCheck: false,
      // Only the address handleAuthRequest resolved; never a header a client set.
      ipAddress: { ipAddressHeaders: [CLIENT_HEADER] },
    },
    telemetry: { enabled: false },
    // An endpoint's unexpected error comes back to handleAuthRequest instead of being logged whole
    // by the library (a driver's message can quote a row) and answered as a bare 500: there a
    // database that cannot be reached answers 503, and anything else is logged by codes only.
    // The library's own refusals (APIError: wrong password, rate limit) still answer as before.
    onAPIError: { throw: true },
  });
}

export type Auth = ReturnType<typeof buildAuth>;

const instances = new WeakMap<Database, Auth>();

/** The process's auth for a database, configured from the environment. */
export function authFor(db: Database): Auth {
  let auth = instances.get(db);
  if (!auth) {
    auth = createAuth(db, authConfigFromEnv(env()));
    instances.set(db, auth);
  }
  return auth;
}

/**
 * The signed-in user of a request, from its session cookie; null without a live session. The
 * cookie cache may answer (see sessionCache.ts); `responseHeaders` receives the refreshed cache
 * cookie when the database had to answer, so the browser's next requests are served from it.
 */
export async function sessionUserFrom(auth: Auth, headers: Headers, responseHeaders?: Headers): Promise<SessionUser | null> {
  // A cross-site request never acts as the user, whatever cookies it carries.
  if (headers.get("sec-fetch-site") === "cross-site") return null;
  // No Host (HTTP/1.0, as some load balancers' health checks send): no origin to tie a session to.
  // Nobody, as an unknown host is; better-auth threw (a 500 on every procedure, health included).
  if (!headers.get("host")?.trim()) return null;
  // These very cookies were verified a moment ago (sessionCache.ts: until their cache cookie expires).
  const key = verifiedKey(headers);
  const known = key ? recallVerified<SessionUser>(auth, key) : null;
  // A copy: callers may sort or change what they are given.
  if (known && !cachedSessionIsStale(known.sessionToken, known.userId)) return { ...known.user, roles: [...known.user.roles] };
  if (known) forgetVerified(auth, key!);
  let session;
  let setCookie = false;
  try {
    const lookup = async (fromDatabase: boolean): Promise<LookedUp> => {
      const result = await auth.api.getSession({ headers, returnHeaders: true, query: fromDatabase ? { disableCookieCache: true } : {} });
      return { session: result.response, cookies: result.headers.getSetCookie() };
    };
    const answer = (looked: LookedUp) => {
      for (const cookie of looked.cookies) {
        setCookie = true;
        responseHeaders?.append("set-cookie", cookie);
      }
      return looked.session;
    };
    // Requests with these very cookies that arrive while one is being looked up share its answer
    // (a page's parallel requests once the cache cookie has expired: one look-up, not one each).
    // It is as fresh as their own would have been; a sign-out or role change made here since it
    // started is caught by the check below, as for any cached answer.
    const flights = key ? flightsOf(auth) : null;
    const shared = key ? flights!.get(key) : undefined;
    if (shared) {
      session = answer(await shared);
    } else {
      const flight = (async () => {
        const first = await lookup(false);
        // Signed out or given other roles in this process since the cached copy was made.
        if (first.session && cachedSessionIsStale(first.session.session.token, first.session.user.id)) {
          const fresh = await lookup(true);
          return { session: fresh.session, cookies: [...first.cookies, ...fresh.cookies] };
        }
        return first;
      })();
      if (key) {
        flights!.set(key, flight);
        void flight.then(
          () => flights!.delete(key),
          () => flights!.delete(key),
        );
      }
      session = answer(await flight);
    }
    if (shared && session && cachedSessionIsStale(session.session.token, session.user.id)) session = answer(await lookup(true));
  } catch (error) {
    // A host the configuration does not know (see BETTER_AUTH_URL) is nobody, not a crash.
    if (isUnknownHost(error)) {
      warnUnknownHost(headers.get("host"));
      return null;
    }
    throw error;
  }
  if (!session) return null;
  const { id, email, name, roles } = session.user;
  const user: SessionUser = { id, email, name, roles: (roles ?? []).filter(isRole) };
  // Only an answer the cache cookie gave (the database's comes with a new cookie to remember instead).
  if (key && !setCookie) {
    const cacheUntil = cacheCookieExpiry(headers.get("cookie") ?? "", (await auth.$context).authCookies.sessionData.name);
    const sessionUntil = new Date(session.session.expiresAt).getTime();
    const remembered = { ...user, roles: [...user.roles] };
    if (cacheUntil !== null) rememberVerified(auth, key, { user: remembered, sessionToken: session.session.token, userId: id, until: Math.min(cacheUntil, sessionUntil) });
  }
  return user;
}

type LookedUp = { session: Awaited<ReturnType<Auth["api"]["getSession"]>>; cookies: string[] };

/** Session look-ups in flight per auth instance, by the request's cookies and host (verifiedKey). */
const flightsByAuth = new WeakMap<object, Map<string, Promise<LookedUp>>>();
function flightsOf(auth: Auth): Map<string, Promise<LookedUp>> {
  let flights = flightsByAuth.get(auth);
  if (!flights) flightsByAuth.set(auth, (flights = new Map()));
  return flights;
}

export function isUnknownHost(error: unknown): boolean {
  return error instanceof Error && /not in the allowed hosts list|Could not (determine|resolve) (host|base URL)|baseURL could not be resolved/i.test(error.message);
}

let hostWarned = false;
function warnUnknownHost(host: string | null) {
  if (hostWarned) return;
  hostWarned = true;
  componentLogger("auth").warn({ host }, "requests for this host cannot sign in: set BETTER_AUTH_URL to the console's public origin");
}

/**
 * better-auth's handler behind the console's own origin check (server/auth/origin.ts: the same
 * rule as tRPC mutations, stricter than the library's, which accepts Origin: null from a page it
 * believes same-origin), answering a request for an unknown host with 421 instead of throwing.
 */
export async function handleAuthRequest(auth: Auth, request: Request): Promise<Response> {
  const refused = refusedAuthRequest(request);
  if (refused) return refused;
  const crossSite = await crossSiteReasonFor(auth, request);
  if (crossSite && request.headers.get("origin") === new URL(request.url).origin) {
    // The console's own page, on an address the configuration does not know.
    warnUnknownHost(request.headers.get("host"));
    return unknownHostResponse();
  }
  if (crossSite) {
    return Response.json({ code: "CROSS_SITE_REQUEST", message: `Refused as a possible cross-site request: ${crossSite}` }, { status: 403 });
  }
  const setup = setups.get(auth);
  const headers = new Headers(request.headers);
  headers.delete(CLIENT_HEADER);
  const address = setup ? clientAddress(request.headers, setup.trustedProxies) : null;
  if (setup?.trustedProxies.kind === "none" && request.headers.has("x-forwarded-for")) warnForwardedIgnored(setup);
  // No trustworthy address: one shared bucket, never a client-chosen one.
  if (address) headers.set(CLIENT_HEADER, address);
  else warnNoClientAddress();
  let body: string | null = null;
  if (request.method === "POST") {
    try {
      body = await limitBody(request, MAX_AUTH_BODY_BYTES, () => new BodyTooLarge()).text();
    } catch (error) {
      // Read whole before anything was checked, a body of any size was held in memory, from anyone.
      if (error instanceof BodyTooLarge) {
        return Response.json({ code: "PAYLOAD_TOO_LARGE", message: `The request body is larger than ${MAX_AUTH_BODY_BYTES / 1024} KB` }, { status: 413, headers: { connection: "close" } });
      }
      throw error;
    }
  }
  const forward = () => auth.handler(new Request(request.url, { method: request.method, headers, body, signal: request.signal }));
  try {
    if (new URL(request.url).pathname.endsWith("/sign-out")) {
      // The session's cached copies in this process are stale from now (sessionCache.ts).
      const ending = await auth.api.getSession({ headers: request.headers }).catch(() => null);
      const response = await forward();
      if (ending) noteSessionChange({ sessionToken: ending.session.token });
      return response;
    }
    const signingIn = request.method === "POST" && new URL(request.url).pathname.endsWith("/sign-in/email");
    const email = signingIn ? signInEmail(body) : null;
    // A sign-in whose email no account can have (none, blank, over 254 characters, or a body that
    // is not JSON) is refused here: passed on, it went uncounted by either limit, and the library
    // still hashed its password (scrypt: ~32 MB and tens of milliseconds each) to answer 401.
    if (signingIn && !email) {
      return Response.json({ code: "BAD_REQUEST", message: "Sign-in takes a JSON body with an email (at most 254 characters) and a password." }, { status: 400 });
    }
    if (!setup || !email) {
      const response = await forward();
      return new URL(request.url).pathname.endsWith("/get-session") && response.ok ? await withoutSessionToken(response) : response;
    }
    // Failed sign-ins are limited per client address (a minute's window) and per account (15
    // minutes). Each attempt is counted in both before the password is checked, so attempts sent
    // at once cannot all slip under a limit, and taken back when no password failed.
    const byAddress = await countAddressAttempt(setup.db, "sign-in", address, setup.addressFailureLimit, setup.addressWindowSeconds);
    if (!byAddress.allowed) {
      return tooManySignIns("RATE_LIMITED", "Too many failed sign-ins from this address. Try again later.", byAddress.retryAfterSeconds);
    }
    const reserved = await reserveAttempt(setup.db, email, setup.accountFailureLimit);
    if (!reserved.allowed) {
      await releaseAddressAttempt(setup.db, "sign-in", address);
      return tooManySignIns("ACCOUNT_RATE_LIMITED", "Too many failed sign-ins for this account. Try again later.", reserved.retryAfterSeconds);
    }
    const response = await forward();
    // Only a checked password counts as a failure (401); a success, or a refusal before the
    // check, does not: a ward's workstations behind one address sign in all day.
    if (response.status !== 401) await releaseAddressAttempt(setup.db, "sign-in", address);
    if (response.ok) await clearAttempts(setup.db, email);
    else if (response.status !== 401) await releaseAttempt(setup.db, email);
    return response.ok ? await withoutSessionToken(response) : response;
  } catch (error) {
    // No connection in DB_POOL_WAIT_SECONDS, or the server gone: say so, as the API does (503).
    if (isDatabaseUnavailable(error)) return databaseUnavailableResponse(error, new URL(request.url).pathname);
    if (isUnknownHost(error)) {
      warnUnknownHost(request.headers.get("host"));
      return unknownHostResponse();
    }
    const correlationId = randomUUID();
    logServerFault({ procedure: `auth ${new URL(request.url).pathname}`, correlationId, error });
    return Response.json({ message: faultMessage(correlationId) }, { status: 500 });
  }
}

/** The largest body /api/auth takes: a sign-in is an email and a password, well under 1 KB. */
export const MAX_AUTH_BODY_BYTES = 16 * 1024;

class BodyTooLarge extends Error {}

/**
 * A sign-in's or get-session's answer without the session token better-auth puts in its body
 * (`token`, or `session.token`): the cookie that carries it is HttpOnly, and the console reads
 * nothing of the body but success, so page script (or an injected one) has no business seeing it.
 */
async function withoutSessionToken(response: Response): Promise<Response> {
  if (!response.headers.get("content-type")?.includes("application/json")) return response;
  const answer = (await response.json()) as Record<string, unknown> | null;
  if (answer && typeof answer === "object" && "token" in answer) delete answer.token;
  const session = answer && typeof answer === "object" ? answer.session : null;
  if (session && typeof session === "object" && "token" in session) delete (session as Record<string, unknown>).token;
  const headers = new Headers(response.headers);
  headers.delete("content-length");
  return new Response(JSON.stringify(answer), { status: response.status, statusText: response.statusText, headers });
}

/** A sign-in refused by a limit, before any password was checked. */
function tooManySignIns(code: string, message: string, retryAfterSeconds: number): Response {
  return Response.json({ code, message, retryAfterSeconds }, { status: 429, headers: { "retry-after": String(retryAfterSeconds), "x-retry-after": String(retryAfterSeconds) } });
}

/** Seconds a client is asked to wait before trying again when the database is unavailable. */
const UNAVAILABLE_RETRY_SECONDS = 5;

/**
 * The 503 of an auth request the database could not serve, logged once with codes only. A
 * read-only database (a failover under way) says so: signing in writes the session.
 */
export function databaseUnavailableResponse(error: unknown, path: string): Response {
  logDatabaseUnavailable({ procedure: `auth ${path}`, correlationId: null, error });
  return Response.json(
    {
      code: isDatabaseReadOnly(error) ? "DATABASE_READ_ONLY" : isDatabaseDiskFull(error) ? "DATABASE_DISK_FULL" : "DATABASE_UNAVAILABLE",
      message: databaseUnavailableMessage(error),
    },
    { status: 503, headers: { "retry-after": String(UNAVAILABLE_RETRY_SECONDS) } },
  );
}

/**
 * The library's endpoints the console uses; every other one answers 404 here, whatever a version
 * of the library adds. Among those left out: /verify-password and /change-password (a password
 * check outside the per-account limit, and a credential change with no event in the log),
 * /list-sessions (the other sessions' tokens) and the session revocations (ours are admin
 * commands with a reason).
 */
const SERVED_AUTH_PATHS: ReadonlyMap<string, string> = new Map([
  ["/sign-in/email", "POST"],
  ["/sign-out", "POST"],
  ["/get-session", "GET"],
]);

/** A request this console refuses before the library sees it: an endpoint it does not serve, or a sign-in not sent as JSON. */
function refusedAuthRequest(request: Request): Response | null {
  const { pathname } = new URL(request.url);
  const path = pathname.startsWith(AUTH_BASE_PATH) ? pathname.slice(AUTH_BASE_PATH.length) : null;
  const method = path === null ? undefined : SERVED_AUTH_PATHS.get(path);
  if (!method) return Response.json({ message: "Not found." }, { status: 404 });
  if (request.method !== method) return Response.json({ message: `Use ${method}.` }, { status: 405, headers: { allow: method } });
  // The per-account limit reads the email from a JSON body; the library would take a form too,
  // and such an attempt would not be counted.
  if (path === "/sign-in/email" && mediaType(request.headers.get("content-type")) !== "application/json") {
    return Response.json({ message: "Sign-in takes a JSON body (Content-Type: application/json)." }, { status: 415 });
  }
  return null;
}

const mediaType = (header: string | null) => (header ?? "").split(";")[0]!.trim().toLowerCase();

/** The email a password sign-in's body names, when it names one an account can have. */
function signInEmail(body: string | null): string | null {
  if (!body) return null;
  try {
    const email = (JSON.parse(body) as { email?: unknown }).email;
    return typeof email === "string" && email.trim().length > 0 && email.length <= 254 ? email : null;
  } catch {
    return null;
  }
}

const forwardedWarned = new WeakSet<AuthSetup>();
/**
 * Once per server: X-Forwarded-For arrives, but no proxy is trusted. A client may send it to no
 * effect; a reverse proxy in front of a console without TRUSTED_PROXIES means every client behind
 * it is counted as the proxy's one address, and the operator is told so.
 */
function warnForwardedIgnored(setup: AuthSetup) {
  if (forwardedWarned.has(setup)) return;
  forwardedWarned.add(setup);
  componentLogger("auth").warn(
    {},
    "sign-in requests carry X-Forwarded-For but TRUSTED_PROXIES is not set, so it is ignored: behind a reverse proxy, every client shares the proxy's sign-in rate-limit bucket (README: Sign-in behind a proxy)",
  );
}

let addressWarned = false;
function warnNoClientAddress() {
  if (addressWarned || process.env.NODE_ENV === "test") return;
  addressWarned = true;
  console.warn("[auth] the client's address is unknown (see TRUSTED_PROXIES in the README): sign-in attempts share one rate-limit bucket");
}

const unknownHostResponse = () => Response.json({ message: "This address is not configured for sign-in." }, { status: 421 });

export type NewUser = { email: string; name: string; password: string; roles: Role[] };

/** Creates a user with an email + password account; the library hashes the password. */
export async function createUserWithPassword(auth: Auth, input: NewUser): Promise<{ id: string }> {
  const ctx = await auth.$context;
  if (input.password.length < MIN_PASSWORD_LENGTH || input.password.length > MAX_PASSWORD_LENGTH) {
    throw new Error(`password must be ${MIN_PASSWORD_LENGTH}-${MAX_PASSWORD_LENGTH} characters`);
  }
  const hash = await ctx.password.hash(input.password);
  const user = await ctx.internalAdapter.createUser({
    email: input.email.toLowerCase(),
    name: input.name,
    emailVerified: true,
    roles: input.roles,
  }, { method: "email-password" });
  await ctx.internalAdapter.linkAccount({ userId: user.id, providerId: "credential", accountId: user.id, password: hash });
  return { id: user.id };
}
