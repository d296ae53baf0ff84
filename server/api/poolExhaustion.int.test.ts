// An exhausted connection pool: every connection held by slow statements. Requests, sign-in
// included, used to queue behind them for as long as they took while system.health said "up".
// Now a request that gets no connection within DB_POOL_WAIT_SECONDS answers 503, and health says
// "degraded" with the pool's numbers as soon as one has waited more than a second.
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase, type Database } from "../db/client";
import { parseEnv } from "../db/env";
import { DATABASE_UNAVAILABLE_MESSAGE } from "../errors";
import { createAuth, createUserWithPassword, handleAuthRequest, type Auth } from "../auth";
import { PEER_HEADER } from "../auth/clientAddress";
import { recordPeerAddresses } from "../auth/peerAddress";
import { callerFor, codeOf } from "../testing/caller";
import { pgUrl } from "../testing/db";
import { captureFaultLines } from "../testing/logLines";
import { cookieFrom, withoutSessionCache } from "../testing/http";

recordPeerAddresses();

const POOL = 3;
const WAIT_SECONDS = 2;
const origin = "http://127.0.0.1:3100";

describe.skipIf(!pgUrl)("an exhausted connection pool [postgresql]", () => {
  let db: Database;
  let auth: Auth;
  const email = `pool-${randomUUID()}@test.invalid`;
  const password = "correct horse battery";

  beforeAll(async () => {
    db = await openDatabase({ url: pgUrl!, poolMax: POOL, poolWaitSeconds: WAIT_SECONDS });
    auth = createAuth(db, { secret: "test-secret-0123456789-0123456789-abcdef", baseURL: null, signInPerMinute: 100 });
    await createUserWithPassword(auth, { email, name: "Pool Admin", password, roles: ["admin"] });
  });
  afterAll(async () => {
    await db?.close();
  });

  /** Takes every connection of the pool for `seconds`; resolves once they are all taken. */
  async function holdEveryConnection(seconds: number): Promise<{ held: Promise<unknown> }> {
    const held = Promise.all(Array.from({ length: POOL }, () => db.sql("SELECT pg_sleep($1::float8)", [seconds])));
    for (let i = 0; i < 100 && !(db.poolState()!.total === POOL && db.poolState()!.idle === 0); i++) await new Promise((r) => setTimeout(r, 20));
    expect(db.poolState()).toMatchObject({ total: POOL, idle: 0 });
    return { held };
  }

  it("parses DB_POOL_WAIT_SECONDS like the other settings", () => {
    expect(parseEnv({}).DB_POOL_WAIT_SECONDS).toBe(10);
    expect(parseEnv({ DB_POOL_WAIT_SECONDS: "3" }).DB_POOL_WAIT_SECONDS).toBe(3);
    expect(() => parseEnv({ DB_POOL_WAIT_SECONDS: "0" })).toThrow(/DB_POOL_WAIT_SECONDS/);
    expect(() => parseEnv({ DB_POOL_WAIT_SECONDS: "1e3" })).toThrow(/DB_POOL_WAIT_SECONDS/);
  });

  it("answers a procedure 503 within the wait, says 'degraded' meanwhile, and serves again once connections free up", { timeout: 60_000 }, async () => {
    const log = captureFaultLines();
    const admin = callerFor(db, ["admin"]);
    expect(await admin.system.health()).toMatchObject({ status: "up", pool: { max: POOL, waiting: 0 } });
    const { held } = await holdEveryConnection(WAIT_SECONDS + 4);
    const t0 = performance.now();
    const call = codeOf(callerFor(db, ["clinician"]).patient.list({}));
    await new Promise((r) => setTimeout(r, 1_300));
    // Answered from the pool's own numbers, at once, though no connection is free.
    const h0 = performance.now();
    const degraded = await admin.system.health();
    expect(performance.now() - h0).toBeLessThan(500);
    expect(degraded.status).toBe("degraded");
    expect(degraded.pool).toMatchObject({ max: POOL, total: POOL, idle: 0 });
    expect(degraded.pool!.waiting).toBeGreaterThanOrEqual(1);
    expect(degraded.pool!.longestWaitMs).toBeGreaterThan(1_000);
    // Anyone (a load balancer) sees the status, not the numbers.
    expect(await callerFor(db, null).system.health()).toEqual({ status: "degraded" });

    expect(await call).toBe("SERVICE_UNAVAILABLE");
    const waited = performance.now() - t0;
    expect(waited).toBeGreaterThan(WAIT_SECONDS * 1000 - 200);
    expect(waited).toBeLessThan(WAIT_SECONDS * 1000 + 1_500);
    expect(log.lines.some((l) => /\[database unavailable\] patient\.list/.test(l))).toBe(true);

    await held;
    expect(await codeOf(callerFor(db, ["clinician"]).patient.list({}))).toBe("OK");
    expect(await admin.system.health()).toMatchObject({ status: "up", pool: { waiting: 0 } });
  });

  it("answers a sign-in 503 within the wait, then signs in once connections free up", { timeout: 60_000 }, async () => {
    const signIn = () =>
      handleAuthRequest(
        auth,
        new Request(`${origin}/api/auth/sign-in/email`, {
          method: "POST",
          headers: { "content-type": "application/json", origin, host: "127.0.0.1:3100", [PEER_HEADER]: "10.9.8.7" },
          body: JSON.stringify({ email, password }),
        }),
      );
    const log = captureFaultLines();
    const { held } = await holdEveryConnection(WAIT_SECONDS + 4);
    const t0 = performance.now();
    const refused = await signIn();
    const waited = performance.now() - t0;
    expect(refused.status).toBe(503);
    expect(await refused.json()).toMatchObject({ code: "DATABASE_UNAVAILABLE", message: DATABASE_UNAVAILABLE_MESSAGE });
    expect(refused.headers.get("retry-after")).toMatch(/^\d+$/);
    expect(waited).toBeLessThan(WAIT_SECONDS * 1000 + 1_500);
    expect(log.lines.some((l) => /\[database unavailable\] auth \S*sign-in/.test(l)), log.lines.join("\n")).toBe(true);
    await held;
    const signedIn = await signIn();
    expect(signedIn.status).toBe(200);

    // A session looked up in the database (no cache cookie): the library's own query waits for
    // the pool, and its failure is answered 503 too, not the library's bare 500.
    const cookie = withoutSessionCache(cookieFrom(signedIn));
    const session = () =>
      handleAuthRequest(auth, new Request(`${origin}/api/auth/get-session`, { headers: { cookie, origin, host: "127.0.0.1:3100", [PEER_HEADER]: "10.9.8.7" } }));
    const again = await holdEveryConnection(WAIT_SECONDS + 4);
    expect((await session()).status).toBe(503);
    await again.held;
    expect(await (await session()).json()).toMatchObject({ user: { email } });
  });
});
