// Break the glass, then answer "who has looked at this chart this month?": a clinician opens the
// chart of a patient not in their care, states why, and sees it; the compliance officer, from the
// patient's audit page, sees who looked and through which screens, and marks the emergency
// access reviewed with a note, within three clicks.
import { expect, test } from "@playwright/test";
import { signIn, signOut, call } from "./helpers";

const shots = ".scratch/compliance-access";

test("a clinician breaks the glass with a reason; compliance sees who looked this month and reviews the access", async ({ page }) => {
  const tag = Date.now().toString(36);
  const family = `Glasswell${tag}`;
  const mrn = `GL${tag.toUpperCase().slice(-8)}`;
  const registrar = { email: `registrar-${tag}@example.test`, name: `Drew Registrar ${tag}`, password: `registrar-pass-${tag}-2026` };
  const reason = "Covering the night ward; patient deteriorating, no primary team reachable";

  // An admin adds a second clinician, who registers a patient: that patient is in Drew's care, not Casey's.
  await signIn(page, "admin@demo.test", "Alex Admin");
  const { enrolment } = await call<{ enrolment: { token: string } }>(page, "users.create", { email: registrar.email, name: registrar.name, roles: ["clinician"] });
  await signOut(page);
  // Drew sets their own password with the enrolment link (e2e/enrolment.spec.ts walks the page).
  await page.goto("/sign-in");
  await call(page, "enrolment.complete", { token: enrolment.token, password: registrar.password });
  await signIn(page, registrar.email, registrar.name, registrar.password);
  const { patientId } = await call<{ patientId: string }>(page, "patient.register", {
    mrn,
    givenName: "Iris",
    familyName: family,
    dateOfBirth: "1964-03-02",
    sex: "female",
  });
  await signOut(page);

  // Casey opens the chart: asked for a reason first, then the chart opens.
  await signIn(page, "clinician@demo.test", "Casey Clinician");
  await page.goto(`/patients/${patientId}`);
  const dialog = page.getByTestId("break-glass");
  await expect(dialog.getByRole("heading", { name: "This patient is not in your care" })).toBeVisible();
  const open = dialog.getByRole("button", { name: "Record reason and open the chart" });
  await dialog.getByLabel("Reason for access").fill("because");
  await expect(open).toBeDisabled();
  await page.screenshot({ path: `${shots}/1-not-in-care.png`, fullPage: true });
  await dialog.getByLabel("Reason for access").fill(reason);
  // A double-click records one access, not two for compliance to review.
  await open.dblclick();
  await expect(page.getByRole("heading", { level: 1 })).toContainText(`Iris ${family}`);
  await expect(dialog).toBeHidden();
  await page.screenshot({ path: `${shots}/2-chart-open.png`, fullPage: true });
  // The grant holds: opening the chart again asks nothing.
  await page.reload();
  await expect(page.getByRole("heading", { level: 1 })).toContainText(`Iris ${family}`);
  await expect(page.getByTestId("break-glass")).toHaveCount(0);
  await signOut(page);

  // Compliance, on the patient's audit page: who has looked at this chart this month (no click).
  await signIn(page, "compliance@demo.test", "Morgan Compliance");
  // The start page says what waits for them, without naming a patient: this access among those to review.
  await page.goto("/");
  const queue = page.getByTestId("home-review-queue");
  await expect(queue.getByRole("link", { name: /emergency access(es)? to review/ })).toBeVisible();
  const waiting = Number(await queue.getAttribute("data-count"));
  expect(waiting).toBeGreaterThan(0);
  await expect(page.getByTestId("compliance-home")).not.toContainText(family);
  await expect(page.getByTestId("home-sealing")).toBeVisible();
  await page.goto(`/audit/patients/${patientId}`);
  const readers = page.getByTestId("chart-readers");
  await expect(readers.getByRole("heading", { name: "Who has looked at this chart this month" })).toBeVisible();
  const casey = readers.getByTestId("reader").filter({ hasText: "Casey Clinician" });
  await expect(casey).toHaveCount(1);
  // Two chart openings (the first, then the reload), each one row however many queries it made.
  await expect(casey.getByTestId("reader-screen")).toHaveText(["opened the chart ×2"]);
  await expect(readers).not.toContainText("patient.byId");
  await page.screenshot({ path: `${shots}/3-who-looked.png`, fullPage: true });

  // Click 1: accesses needing review; the access with who, which patient and why.
  await page.getByRole("navigation", { name: "Audit" }).getByRole("link", { name: "Accesses needing review" }).click();
  const access = page.getByTestId("emergency-access").filter({ hasText: family });
  await expect(access).toHaveCount(1);
  await expect(access).toContainText("Casey Clinician");
  await expect(access).toContainText(reason);
  // The MRN in a column of its own, as stored: never prefixed with another "MRN".
  await expect(access.getByRole("cell", { name: mrn, exact: true })).toBeVisible();
  // What the grant was used for: the two openings, no change, no care that outlasts it.
  await expect(access.getByTestId("grant-use")).toHaveText("opened the chart 2 times");
  await page.screenshot({ path: `${shots}/4-needing-review.png`, fullPage: true });
  // Click 2: review; click 3: mark reviewed with a note.
  await access.getByRole("button", { name: "Review…" }).click();
  await access.getByLabel("Note", { exact: true }).fill("Confirmed with the night rota: Casey covered the ward");
  await access.getByRole("button", { name: "Mark reviewed" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Marked reviewed" })).toBeVisible();
  await expect(page.getByTestId("emergency-access").filter({ hasText: family })).toHaveCount(0);
  await page.getByRole("button", { name: "Reviewed", exact: true }).click();
  const reviewed = page.getByTestId("emergency-access").filter({ hasText: family });
  await expect(reviewed.getByTestId("review")).toContainText("Reviewed by Morgan Compliance");
  await expect(reviewed.getByTestId("review")).toContainText("Confirmed with the night rota");
  await expect(reviewed.getByRole("button", { name: "Review…" })).toHaveCount(0);
  await page.screenshot({ path: `${shots}/5-reviewed.png`, fullPage: true });
  // One fewer waits on the start page, whose cards lead to every audit page.
  await page.goto("/");
  await expect(page.getByTestId("home-review-queue")).toHaveAttribute("data-count", String(waiting - 1));

  // Charts opened per user: Casey's emergency access is counted.
  await page.getByTestId("compliance-home").getByRole("link", { name: "Charts opened per user" }).click();
  await expect(page.getByTestId("user-activity").filter({ hasText: "Casey Clinician" })).toContainText(/opened \d+ charts? today/);
  await page.screenshot({ path: `${shots}/6-activity.png`, fullPage: true });

  // The access log: a name that matches nobody says so; the right name is picked, never typed as an id.
  await page.getByRole("navigation", { name: "Audit" }).getByRole("link", { name: "Access log" }).click();
  await page.getByLabel("Patient (name or MRN)").fill(`Nobody${tag}`);
  await page.getByRole("search", { name: "Patient" }).getByRole("button", { name: "Find" }).click();
  await expect(page.getByTestId("patient-no-match")).toContainText("No patient matches");
  await page.getByLabel("Patient (name or MRN)").fill(family);
  await page.getByRole("search", { name: "Patient" }).getByRole("button", { name: "Find" }).click();
  await page.getByRole("button", { name: `${family}, Iris · MRN: ${mrn} · born 1964-03-02` }).click();
  await expect(page.getByTestId("picked-patient")).toHaveText(`Iris ${family} (MRN: ${mrn})`);
  await expect(page.getByTestId("chart-readers").getByTestId("reader").filter({ hasText: "Casey Clinician" })).toContainText("opened the chart");
  await expect(page.getByTestId("access-row").filter({ hasText: "Casey Clinician" }).first()).toContainText("opened the chart");
  await page.screenshot({ path: `${shots}/7-access-log.png`, fullPage: true });
  await signOut(page);

  // Someone who is both clinician and compliance breaks the glass: the review list shows the
  // access to them, but another compliance officer reviews it (the server refuses their own).
  const both = { email: `night-lead-${tag}@example.test`, name: `Rowan Nightlead ${tag}`, password: `night-lead-pass-${tag}-2026` };
  await signIn(page, "admin@demo.test", "Alex Admin");
  const made = await call<{ enrolment: { token: string } }>(page, "users.create", { email: both.email, name: both.name, roles: ["clinician", "compliance"] });
  await signOut(page);
  await page.goto("/sign-in");
  await call(page, "enrolment.complete", { token: made.enrolment.token, password: both.password });
  await signIn(page, both.email, both.name, both.password);
  await page.goto(`/patients/${patientId}`);
  await page.getByTestId("break-glass").getByLabel("Reason for access").fill("Night lead checking the escalation plan for the ward");
  await page.getByTestId("break-glass").getByRole("button", { name: "Record reason and open the chart" }).click();
  await expect(page.getByRole("heading", { level: 1 })).toContainText(`Iris ${family}`);
  await page.goto("/audit/emergency");
  const own = page.getByTestId("emergency-access").filter({ hasText: both.name });
  await expect(own.getByTestId("own-access")).toHaveText("Your own access: another compliance officer reviews it.");
  await expect(own.getByTestId("grant-use")).toHaveText("opened the chart once");
  await expect(own.getByRole("button", { name: "Review…" })).toHaveCount(0);
  await page.screenshot({ path: `${shots}/8-own-access.png`, fullPage: true });
});
