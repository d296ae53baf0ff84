// A database of its own for a row whose data must not weigh on the other rows (the scale rows):
// migrated, with the store on it (the clinical registry and a key ring of its own), a small pg
// pool for bulk SQL and raw reads, and one close that drops it all.
import { randomBytes } from "node:crypto";
import pg from "pg";
import { openDatabase, type Database } from "../../server/db/client";
import { migrate } from "../../server/db/migrate";
import { eventRegistry } from "../../server/domain/registry";
import { storeOn, type Store } from "../../server/eventStore";
import { createKeyRing, masterKeyOf } from "../../server/eventStore/phi";
import { sideDatabase } from "./database";
import { installStockParsers } from "./pgTypes";

export type SideStore = { db: Database; store: Store; pool: pg.Pool; close(): Promise<void> };

export async function openSideStore(oursUrl: string, suffix: string, poolMax: number): Promise<SideStore> {
  const side = await sideDatabase(oursUrl, suffix);
  const db = await openDatabase({ url: side.url, poolMax });
  const pool = new pg.Pool({ connectionString: side.url, max: 2 });
  // The drop is WITH (FORCE): a connection still closing then must not end the process.
  pool.on("error", () => {});
  const close = async () => {
    await pool.end();
    await db.close();
    await side.drop();
  };
  try {
    await migrate(db);
  } catch (error) {
    await close();
    throw error;
  }
  installStockParsers();
  const store = storeOn(db, eventRegistry, createKeyRing({ current: masterKeyOf(randomBytes(32)) }));
  return { db, store, pool, close };
}
