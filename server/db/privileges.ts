// What the app's database role must be allowed, checked at start-up: a role that may only read
// (a read-only replica's login, a reporting role given by mistake) otherwise started, printed
// "ready" and answered the health check "up", while sign-in answered 500 and the outbox,
// projections and metrics failed with "permission denied" on every pass.
import type { Database } from "./client";

/** The privileges every process of the app writes with (the migrations grant them to emr_app). */
const needed: { what: string; check: string }[] = [
  { what: "EXECUTE on append_to_stream (every change)", check: "has_function_privilege('append_to_stream(text, text, integer, uuid[], text[], integer[], jsonb, jsonb, timestamptz[], text[], text[], text[])', 'EXECUTE')" },
  { what: "INSERT, UPDATE on auth_sessions (sign-in)", check: "has_table_privilege('auth_sessions', 'INSERT, UPDATE')" },
  { what: "INSERT on access_log (reading a chart)", check: "has_table_privilege('access_log', 'INSERT')" },
  { what: "UPDATE, DELETE on outbox (the outbox worker)", check: "has_table_privilege('outbox', 'UPDATE, DELETE')" },
  { what: "EXECUTE on outbox_claim_for_bus (the outbox worker's bus stage)", check: "has_function_privilege('outbox_claim_for_bus(timestamptz, integer, integer)', 'EXECUTE')" },
  { what: "INSERT, UPDATE, DELETE on outbox_publishers (workers that publish say so)", check: "has_table_privilege('outbox_publishers', 'INSERT, UPDATE, DELETE')" },
  { what: "INSERT, UPDATE on projection_checkpoints (projections)", check: "has_table_privilege('projection_checkpoints', 'INSERT, UPDATE')" },
  { what: "INSERT, UPDATE on rm_patients (read models)", check: "has_table_privilege('rm_patients', 'INSERT, UPDATE')" },
];

export class MissingPrivilegesError extends Error {
  override readonly name = "MissingPrivilegesError";
}

export async function refuseWithoutWritePrivileges(db: Database): Promise<void> {
  if (db.mode !== "postgresql") return;
  const [row] = await db.sql<Record<string, boolean>>(`SELECT ${needed.map((n, i) => `${n.check} AS p${i}`).join(", ")}, current_user AS who`, []);
  const missing = needed.filter((_, i) => row?.[`p${i}`] !== true).map((n) => n.what);
  if (missing.length === 0) return;
  throw new MissingPrivilegesError(
    `The database user ${String(row?.who)} lacks what the app writes with: ${missing.join("; ")}. ` +
      "Connect as a login that is a member of emr_app (README: Running on a real PostgreSQL): `GRANT emr_app TO <login>`.",
  );
}
