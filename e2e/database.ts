// The run's database as its owner, for the few journeys that need a state no page can make (an
// outbox row that failed five times). Only with PostgreSQL: the embedded database belongs to the
// server's process.
import pg from "pg";

export const databaseReachable = Boolean(process.env.DATABASE_URL?.trim() && process.env.E2E_DATABASE_NAME);

export async function asOwner<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const url = new URL(process.env.DATABASE_URL!.trim());
  url.pathname = `/${process.env.E2E_DATABASE_NAME}`;
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
