// A development PHI key lost beside data it protects: start-up stops and makes no new key.
import { randomBytes, randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Database } from "./client";
import { refuseLostDevelopmentKey } from "./phiKey";
import { eventRegistry } from "../domain/registry";
import { eventExamples } from "../domain/schemaRegistry";
import { appendToStream, storeOn } from "../eventStore";
import { createKeyRing, masterKeyOf } from "../eventStore/phi";
import { openTestDatabase } from "../testing/db";

describe("a lost development PHI key [embedded, a database of its own]", () => {
  let db: Database;
  const folder = mkdtempSync(join(tmpdir(), "phi-lost-"));
  const file = join(folder, "phi-master-key");
  const development = { NODE_ENV: "development" as const };
  beforeAll(async () => {
    db = await openTestDatabase("embedded");
  });
  afterAll(async () => {
    await db?.close();
    rmSync(folder, { recursive: true, force: true });
  });

  it("is made on a database without data keys, and refused, with none made, on one that holds them", async () => {
    await expect(refuseLostDevelopmentKey(db.sql, development, file)).resolves.toBeUndefined();

    const store = storeOn(db, eventRegistry, createKeyRing({ current: masterKeyOf(randomBytes(32)), previous: [] }));
    const patientId = randomUUID();
    await appendToStream(
      store,
      `patient-${patientId}`,
      [{ type: "PatientRegistered", data: { ...eventExamples.PatientRegistered!, patientId }, eventId: randomUUID(), occurredAt: new Date(), userId: "t", correlationId: randomUUID(), causationId: null }],
      { expectedVersion: "no_stream", aggregateType: "patient" },
    );

    const refused = refuseLostDevelopmentKey(db.sql, development, file);
    await expect(refused).rejects.toThrow(/PHI_MASTER_KEY: not set, and the development key .*phi-master-key is missing, but this database holds patient data keys \(1 wrapped by master key [0-9a-f]{16}\)/);
    await expect(refused).rejects.toThrow(/Put that file back .* no new key was made/);
    expect(existsSync(file)).toBe(false);

    // The key set, or the file there: the master-key check that follows judges it.
    await expect(refuseLostDevelopmentKey(db.sql, { ...development, PHI_MASTER_KEY: randomBytes(32).toString("base64") }, file)).resolves.toBeUndefined();
    await expect(refuseLostDevelopmentKey(db.sql, { NODE_ENV: "production" }, file)).resolves.toBeUndefined();
    writeFileSync(file, `${randomBytes(32).toString("base64")}\n`);
    await expect(refuseLostDevelopmentKey(db.sql, development, file)).resolves.toBeUndefined();
  });
});
