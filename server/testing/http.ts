// Calling the app's real route handlers (app/api/...) in-process with Request objects, as the
// browser would, on a test database.
import type { Database } from "../db/client";

const processDatabase = Symbol.for("emr.database");

/** Makes `db` the process's database (what getDatabase() answers) for the route handlers. */
export function useAsProcessDatabase(db: Database) {
  (globalThis as Record<symbol, unknown>)[processDatabase] = Promise.resolve(db);
}

export const testOrigin = "http://127.0.0.1:3100";

/** The cookie header a browser would send back after this response. */
export function cookieFrom(response: Response): string {
  return response.headers
    .getSetCookie()
    .map((c) => c.split(";")[0])
    .join("; ");
}

/** The same cookies without the session cache cookie: as once it has expired, the session comes from the database. */
export function withoutSessionCache(cookie: string): string {
  return cookie
    .split("; ")
    .filter((c) => !c.startsWith("emr.session_data="))
    .join("; ");
}

/** A POST as the console's page makes it: JSON, same origin, unless `headers` says otherwise. */
export function postRequest(path: string, body: unknown, headers: Record<string, string | null> = {}): Request {
  const all: Record<string, string | null> = { "content-type": "application/json", origin: testOrigin, host: "127.0.0.1:3100", ...headers };
  const h = new Headers();
  for (const [k, v] of Object.entries(all)) if (v !== null) h.set(k, v);
  return new Request(`${testOrigin}${path}`, { method: "POST", headers: h, body: JSON.stringify(body) });
}
