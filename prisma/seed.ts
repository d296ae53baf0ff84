// Synthetic demo data. Filled in by the clinical domain; for now the hook that start-up calls.
import type { Database } from "../server/db/client";
import type { Env } from "../server/db/env";

export async function prepareDemo(_db: Database, _env: Env): Promise<void> {}
