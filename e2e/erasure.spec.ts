// An admin forgets a patient: finds them by MRN, sees who it is, must give a reason, type the MRN
// again and tick that it cannot be undone; afterwards the clinician's chart says the patient was
// erased and shows none of their details, and the erasure is listed with who and why.
import { expect, test } from "@playwright/test";
import { signIn } from "./helpers";

test("an admin erases a patient after a confirm step, and the chart shows them as erased", async ({ browser }) => {
  const mrn = `X${Date.now().toString(36).toUpperCase().slice(-8)}`;
  const family = `Forget${Date.now().toString(36)}`;

  const clinician = await browser.newPage();
  await signIn(clinician, "clinician@demo.test", "Casey Clinician");
  await clinician.goto("/patients");
  await clinician.getByRole("link", { name: "Register patient" }).click();
  await clinician.getByLabel("Medical record number (MRN)").fill(mrn);
  await clinician.getByLabel("Given name").fill("Wren");
  await clinician.getByLabel("Family name").fill(family);
  await clinician.getByLabel("Date of birth").fill("1966-06-06");
  await clinician.getByLabel("Sex").selectOption("female");
  await clinician.getByRole("button", { name: "Register patient" }).click();
  await expect(clinician).toHaveURL(/\/patients\/[0-9a-f-]{36}/);
  const chartUrl = clinician.url();

  const admin = await browser.newPage();
  await signIn(admin, "admin@demo.test", "Alex Admin");
  await admin.goto("/admin/erasure");
  await admin.getByLabel("MRN").fill(mrn);
  await admin.getByRole("button", { name: "Find patient" }).click();
  const confirm = admin.getByTestId("erase-confirm");
  await expect(confirm).toContainText(`Wren ${family}`);
  await expect(confirm).toContainText("1966-06-06");
  const erase = confirm.getByRole("button", { name: "Erase this patient" });
  await expect(erase).toBeDisabled();
  await confirm.getByLabel(/^Reason/).fill("erasure request ER-2026-031");
  await confirm.getByLabel("Type the MRN again to confirm").fill(`${mrn}X`.slice(0, 6));
  await confirm.getByRole("checkbox").check();
  // A wrong MRN keeps the button off.
  await expect(erase).toBeDisabled();
  await confirm.getByLabel("Type the MRN again to confirm").fill(mrn);
  await expect(erase).toBeEnabled();
  await admin.screenshot({ path: ".scratch/erasure-confirm.png", fullPage: true });
  await erase.click();
  await expect(admin.getByRole("status").filter({ hasText: `The patient with MRN ${mrn} was erased.` })).toBeVisible();
  await expect(admin.getByTestId("erasures")).toContainText("erasure request ER-2026-031");
  // Its time names the zone, as everywhere else in the console.
  const erasure = admin.getByTestId("erasures").getByRole("row").filter({ hasText: "erasure request ER-2026-031" });
  await expect(erasure.locator("time")).toHaveText(/\d{1,2}:\d{2} ?(AM|PM)? (UTC|GMT[+-]?[\d:]*|[A-Z]{2,5})$/);
  await admin.screenshot({ path: ".scratch/erasure-done.png", fullPage: true });

  await clinician.goto(chartUrl);
  await expect(clinician.getByTestId("patient-erased")).toBeVisible();
  await expect(clinician.getByRole("heading", { level: 1 })).toContainText("[erased]");
  await expect(clinician.locator("main")).not.toContainText(family);
  await expect(clinician.locator("main")).not.toContainText("1966-06-06");
  // Nothing more can be recorded about them, so nothing is offered.
  const safety = clinician.getByTestId("safety-panel");
  await expect(safety).toBeVisible();
  for (const name of ["Record allergy", "Record alert", "No known allergies"]) await expect(safety.getByRole("button", { name })).toHaveCount(0);
  await expect(clinician.getByTestId("banner-allergies")).toContainText("None recorded");
  await expect(clinician.getByTestId("banner-allergies")).not.toContainText("Allergies not recorded");
  await clinician.screenshot({ path: ".scratch/erasure-chart.png", fullPage: true });
});
