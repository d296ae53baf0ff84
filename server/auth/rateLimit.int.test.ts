// Sign-in rate limits, on failed sign-ins: per client address (the socket's, or as far back as
// TRUSTED_PROXIES allows) in a minute's window, and per account in the database, so a guess
// spread over many addresses is slowed too.
import { randomUUID } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { describeEachDatabase } from "../testing/db";
import { parseEnv } from "../db/env";
import { createAuth, createUserWithPassword, handleAuthRequest, type Auth } from ".";
import type { AuthConfig } from "./config";
import { clientAddress, parseTrustedProxies, PEER_HEADER } from "./clientAddress";
import { accountKey } from "./accountLimit";
import { recordPeerAddresses } from "./peerAddress";
import { captureLogLines } from "../testing/logLines";

recordPeerAddresses();

const origin = "http://127.0.0.1:3100";
const base: AuthConfig = { secret: "test-secret-0123456789-0123456789-abcdef", baseURL: null, signInPerMinute: 3, accountFailureLimit: 1000 };
let counter = 0;
/** A fresh address every call. */
const fresh = () => {
  counter += 1;
  return `198.18.${Math.floor(counter / 250) % 250}.${(counter % 250) + 1}`;
};
const randomIp = () => `203.0.113.${Math.floor(Math.random() * 250) + 1}`;

function signIn(auth: Auth, email: string, password: string, headers: Record<string, string>) {
  return handleAuthRequest(
    auth,
    new Request(`${origin}/api/auth/sign-in/email`, {
      method: "POST",
      headers: { "content-type": "application/json", origin, host: "127.0.0.1:3100", ...headers },
      body: JSON.stringify({ email, password }),
    }),
  );
}

describeEachDatabase("sign-in rate limits", (db) => {
  const password = "correct horse battery";
  const email = () => `limit-${randomUUID()}@test.invalid`;

  async function account(auth: Auth) {
    const address = email();
    await createUserWithPassword(auth, { email: address, name: "Limit Test", password, roles: ["clinician"] });
    return address;
  }

  describe("per client address", () => {
    let auth: Auth;
    beforeAll(() => {
      auth = createAuth(db(), base);
    });

    it("ignores X-Forwarded-For without TRUSTED_PROXIES: a fresh value per attempt does not get a fresh bucket", async () => {
      const peer = fresh();
      const who = await account(auth);
      const statuses = [];
      for (let i = 0; i < 5; i++) {
        statuses.push((await signIn(auth, who, `wrong-${i}-password`, { [PEER_HEADER]: peer, "x-forwarded-for": randomIp() })).status);
      }
      expect(statuses).toEqual([401, 401, 401, 429, 429]);
      expect((await signIn(auth, who, password, { [PEER_HEADER]: fresh() })).status).toBe(200);
    });

    it("tells the operator once that X-Forwarded-For arrives while no proxy is trusted", async () => {
      const own = createAuth(db(), base);
      const { lines, restore } = captureLogLines("warn");
      try {
        const who = await account(own);
        await signIn(own, who, password, { [PEER_HEADER]: fresh() });
        expect(lines.filter((l) => l.includes("TRUSTED_PROXIES is not set"))).toEqual([]);
        for (let i = 0; i < 3; i++) await signIn(own, who, password, { [PEER_HEADER]: fresh(), "x-forwarded-for": randomIp() });
        expect(lines.filter((l) => l.includes("TRUSTED_PROXIES is not set"))).toHaveLength(1);
        // With a proxy trusted, the header is what it should be: nothing to say.
        const behind = createAuth(db(), { ...base, trustedProxies: "1" });
        await signIn(behind, who, password, { [PEER_HEADER]: fresh(), "x-forwarded-for": randomIp() });
        expect(lines.filter((l) => l.includes("TRUSTED_PROXIES is not set"))).toHaveLength(1);
      } finally {
        restore();
      }
    });

    it("counts only failed sign-ins: a ward's workstations behind one address sign in all day", async () => {
      const ward = fresh();
      const who = await account(auth);
      for (let i = 0; i < 8; i++) expect((await signIn(auth, who, password, { [PEER_HEADER]: ward })).status).toBe(200);
      const statuses = [];
      for (let i = 0; i < 4; i++) statuses.push((await signIn(auth, who, `wrong-${i}-password`, { [PEER_HEADER]: ward })).status);
      expect(statuses).toEqual([401, 401, 401, 429]);
    });

    it("starts the count again when the window has passed, however steadily attempts kept coming", async () => {
      // The window starts at the first attempt. It is long enough that the four failed sign-ins
      // (each a password hash) fit in it on a loaded machine: at 2 s, they once did not.
      const windowSeconds = 5;
      const short = createAuth(db(), { ...base, addressWindowSeconds: windowSeconds });
      const peer = fresh();
      const who = await account(short);
      const statuses = [];
      const first = Date.now();
      for (let i = 0; i < 4; i++) statuses.push((await signIn(short, who, "wrong-password", { [PEER_HEADER]: peer })).status);
      expect(statuses).toEqual([401, 401, 401, 429]);
      const refused = await signIn(short, who, password, { [PEER_HEADER]: peer });
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get("retry-after"))).toBeLessThanOrEqual(windowSeconds);
      expect(((await refused.json()) as { message: string }).message).toMatch(/too many failed sign-ins from this address/i);
      // An attempt every quarter second, never a quiet moment: the window still ends.
      let status = 429;
      while (status === 429 && Date.now() - first < (windowSeconds + 5) * 1000) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        status = (await signIn(short, who, password, { [PEER_HEADER]: peer })).status;
      }
      expect(status).toBe(200);
      const elapsed = Date.now() - first;
      // Not before the window has passed, and soon after it.
      expect(elapsed).toBeGreaterThanOrEqual(windowSeconds * 1000 - 250);
      expect(elapsed).toBeLessThan((windowSeconds + 2) * 1000);
    }, 20_000);

    it("ignores a client's own copy of the header that carries the resolved address to the library", async () => {
      const peer = fresh();
      const who = await account(auth);
      for (let i = 0; i < 3; i++) await signIn(auth, who, "wrong-password", { [PEER_HEADER]: peer, "x-emr-client-address": randomIp() });
      expect((await signIn(auth, who, password, { [PEER_HEADER]: peer, "x-emr-client-address": randomIp() })).status).toBe(429);
    });
  });

  describe("behind one proxy (TRUSTED_PROXIES=1)", () => {
    let auth: Auth;
    beforeAll(() => {
      auth = createAuth(db(), { ...base, trustedProxies: "1" });
    });

    it("gives each client behind the proxy its own bucket, whatever it puts in front of the chain", async () => {
      const proxy = fresh();
      const client = fresh();
      const neighbour = fresh();
      const who = await account(auth);
      const statuses = [];
      for (let i = 0; i < 5; i++) {
        statuses.push((await signIn(auth, who, "wrong-password", { [PEER_HEADER]: proxy, "x-forwarded-for": `${randomIp()}, ${client}` })).status);
      }
      expect(statuses).toEqual([401, 401, 401, 429, 429]);
      // Another client through the same proxy is not held back by the first one's bucket.
      expect((await signIn(auth, who, password, { [PEER_HEADER]: proxy, "x-forwarded-for": `${randomIp()}, ${neighbour}` })).status).toBe(200);
    });
  });

  describe("per account", () => {
    it("slows a guess spread over many addresses, counted in the database that every instance shares", async () => {
      const limited = { ...base, signInPerMinute: 1000, accountFailureLimit: 4 };
      // Two instances of the app on one database.
      const one = createAuth(db(), limited);
      const two = createAuth(db(), limited);
      const who = await account(one);
      const statuses = [];
      for (let i = 0; i < 6; i++) statuses.push((await signIn(i % 2 ? one : two, who, `guess-${i}-password`, { [PEER_HEADER]: fresh() })).status);
      expect(statuses).toEqual([401, 401, 401, 401, 429, 429]);
      // Even the right password waits for the window: a guess cannot tell it found it.
      const refused = await signIn(one, who, password, { [PEER_HEADER]: fresh() });
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
      expect(((await refused.json()) as { message: string }).message).toMatch(/too many failed sign-ins/i);
      const row = await db().prisma.$queryRawUnsafe<{ failures: number }[]>(
        "SELECT failures FROM auth_signin_failures WHERE account_key = $1",
        accountKey(who),
      );
      expect(row[0]?.failures).toBeGreaterThan(4);
      // Another account is not affected.
      const other = await account(one);
      expect((await signIn(two, other, password, { [PEER_HEADER]: fresh() })).status).toBe(200);
    });

    it("clears an account's failures when it signs in, and counts unknown emails alike", async () => {
      const auth = createAuth(db(), { ...base, signInPerMinute: 1000, accountFailureLimit: 3 });
      const who = await account(auth);
      for (let i = 0; i < 2; i++) expect((await signIn(auth, who, "wrong-password", { [PEER_HEADER]: fresh() })).status).toBe(401);
      expect((await signIn(auth, who.toUpperCase(), password, { [PEER_HEADER]: fresh() })).status).toBe(200);
      for (let i = 0; i < 3; i++) expect((await signIn(auth, who, "wrong-password", { [PEER_HEADER]: fresh() })).status).toBe(401);
      expect((await signIn(auth, who, "wrong-password", { [PEER_HEADER]: fresh() })).status).toBe(429);
      const nobody = email();
      const unknown = [];
      for (let i = 0; i < 4; i++) unknown.push((await signIn(auth, nobody, "wrong-password", { [PEER_HEADER]: fresh() })).status);
      expect(unknown).toEqual([401, 401, 401, 429]);
    });
  });
});

describe("clientAddress", () => {
  const h = (peer: string | null, xff?: string) => {
    const headers = new Headers();
    if (peer) headers.set(PEER_HEADER, peer);
    if (xff) headers.set("x-forwarded-for", xff);
    return headers;
  };

  it("uses the socket's address, ignoring X-Forwarded-For, when no proxy is trusted", () => {
    const none = parseTrustedProxies(undefined);
    expect(clientAddress(h("192.0.2.1", "198.51.100.9"), none)).toBe("192.0.2.1");
    expect(clientAddress(h(null, "198.51.100.9"), none)).toBeNull();
    expect(clientAddress(h("::ffff:192.0.2.1"), none)).toBe("::ffff:192.0.2.1");
  });

  it("counts hops from the socket back", () => {
    expect(clientAddress(h("10.0.0.1", "1.1.1.1, 2.2.2.2, 3.3.3.3"), parseTrustedProxies("1"))).toBe("3.3.3.3");
    expect(clientAddress(h("10.0.0.1", "1.1.1.1, 2.2.2.2, 3.3.3.3"), parseTrustedProxies("2"))).toBe("2.2.2.2");
    expect(clientAddress(h("10.0.0.1", "3.3.3.3"), parseTrustedProxies("3"))).toBe("3.3.3.3");
    expect(clientAddress(h("10.0.0.1"), parseTrustedProxies("1"))).toBe("10.0.0.1");
    expect(clientAddress(h("10.0.0.1", "not-an-ip"), parseTrustedProxies("1"))).toBeNull();
  });

  it("walks back over listed proxies, and believes nothing forwarded by a peer that is not one", () => {
    const list = parseTrustedProxies("10.0.0.0/8, 2001:db8::/32");
    expect(clientAddress(h("10.0.0.1", "203.0.113.9, 10.1.2.3"), list)).toBe("203.0.113.9");
    expect(clientAddress(h("2001:db8::5", "203.0.113.9"), list)).toBe("203.0.113.9");
    expect(clientAddress(h("192.0.2.50", "203.0.113.9"), list)).toBe("192.0.2.50");
    expect(clientAddress(h("10.0.0.1", "10.0.0.2, 10.0.0.3"), list)).toBe("10.0.0.2");
    expect(clientAddress(h(null, "203.0.113.9"), list)).toBeNull();
  });

  it("is validated at start-up", () => {
    for (const ok of ["", "0", "1", "10.0.0.1", "10.0.0.0/8, ::1, 2001:db8::/32"]) expect(() => parseEnv({ TRUSTED_PROXIES: ok })).not.toThrow();
    for (const bad of ["abc", "11", "10.0.0.0/33", "10.0.0.1, nope", "-1"]) expect(() => parseEnv({ TRUSTED_PROXIES: bad })).toThrow(/TRUSTED_PROXIES/);
  });
});
