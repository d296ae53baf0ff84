// An admin sees that a long record imported without historic snapshots lacks them (a load at an
// old version of it folds from the first event), writes them from the console with the progress
// shown, and the panel then says no record lacks them.
import { randomUUID } from "node:crypto";
import { expect, test } from "@playwright/test";
import { layLongPatientStream } from "../server/testing/longStream";
import { asOwner, databaseReachable } from "./database";
import { signIn } from "./helpers";

test.skip(!databaseReachable, "needs the run's PostgreSQL database (DATABASE_URL): the imported record is laid down there by hand");

test("an admin writes the historic snapshots a long imported record lacks, from the snapshots panel", async ({ page }) => {
  const patientId = randomUUID();
  const streamId = `patient-${patientId}`;
  // 620 events laid down in bulk, as an import from another system: no snapshot at all.
  await asOwner((db) => layLongPatientStream(db, streamId, patientId, 620));

  await signIn(page, "admin@demo.test", "Alex Admin");
  await page.goto("/admin");
  const historic = page.getByTestId("snapshots").getByTestId("historic-snapshots");
  await expect(historic).toContainText("one per 500 versions of a record, for time travel; 1 record lacks them");
  await historic.scrollIntoViewIfNeeded();
  await page.getByTestId("snapshots").screenshot({ path: ".scratch/admin-historic-snapshots-lacking.png" });

  await historic.getByRole("button", { name: "Write them" }).click();
  await expect(page.getByTestId("snapshots").getByRole("status")).toContainText("Done: 1 historic snapshot written for 1 record.");
  await expect(historic).toContainText("no record lacks them");
  await expect(historic.getByRole("button", { name: "Write them" })).toHaveCount(0);
  await page.getByTestId("snapshots").screenshot({ path: ".scratch/admin-historic-snapshots-written.png" });

  const versions = await asOwner(async (db) => (await db.query<{ version: number }>("SELECT version FROM snapshots WHERE stream_id = $1 ORDER BY version", [streamId])).rows);
  expect(versions.map((r) => r.version)).toEqual([500]);
});
