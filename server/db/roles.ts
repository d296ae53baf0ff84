// The app's database role. Migrations (as the owner) create the NOLOGIN group role `emr_app`
// with SELECT, INSERT on events and access_log and plain DML elsewhere; the app logs in as a
// member of it. Tests and the e2e server make such a login role for themselves, as a DBA would.
import pg from "pg";

export const appGroupRole = "emr_app";

/**
 * Creates (once per server) a LOGIN role that is a member of emr_app, and lets it connect to the
 * owner URL's database (PUBLIC may not: migration 20261205010000). Safe to race.
 */
export async function ensureAppLoginRole(ownerUrl: string, loginRole: string): Promise<void> {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(loginRole)) throw new Error(`not a plain role name: ${loginRole}`);
  const client = new pg.Client({ connectionString: ownerUrl });
  await client.connect();
  try {
    await client.query(`DO $$
      BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '${loginRole}') THEN
          CREATE ROLE ${loginRole} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE IN ROLE ${appGroupRole};
        END IF;
      EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
      END $$`);
    await client.query(grantConnectSql(loginRole));
  } finally {
    await client.end();
  }
}

const grantConnectSql = (role: string) => `DO $$ BEGIN EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), '${role}'); END $$`;

/** As the owner: lets `role` connect to the owner URL's database. */
export async function grantConnect(ownerUrl: string, role: string): Promise<void> {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(role)) throw new Error(`not a plain role name: ${role}`);
  const client = new pg.Client({ connectionString: ownerUrl });
  await client.connect();
  try {
    await client.query(grantConnectSql(role));
  } finally {
    await client.end();
  }
}

/** The same connection URL as another user (no password: trust or a .pgpass entry). */
export function urlAsUser(url: string, user: string): string {
  const u = new URL(url);
  u.username = user;
  u.password = "";
  return u.toString();
}
