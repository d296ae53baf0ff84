// The compliance officer's five questions, each answered in the browser within three clicks of the
// patient's audit page: who changed the address (when, why, the value before); the record as it
// was at a past moment, on both time axes, and compared with now; what caused an event and what
// it caused; who has looked at the chart this month; and an extract for the external auditor
// (downloaded), which carries the log's signed seal; then the log verified from the console.
import { createPublicKey } from "node:crypto";
import { readFileSync } from "node:fs";
import { expect, test, type Page } from "@playwright/test";
import { verifyExtract } from "../server/audit/extractVerify";
import { keyIdOf } from "../server/eventStore/integrity";
import { call, localInputValue, signIn, signOut } from "./helpers";
import { retiredAuditPublicKey } from "./retiredKey";

const shots = "e2e/.screenshots";

async function patientPage(page: Page, patientId: string) {
  await page.goto(`/audit/patients/${patientId}`);
  await expect(page.getByTestId("timeline").getByTestId("timeline-event").first()).toBeVisible();
}

test("a compliance officer answers the five questions from the patient's audit page", async ({ page }) => {
  test.setTimeout(180_000);
  // The clinician's history: register, later correct the address with a reason, complete a lab
  // order with a critical value (the reaction flags it on the chart), and open the chart.
  await signIn(page, "clinician@demo.test", "Casey Clinician");
  const family = `Consolewell${Date.now().toString(36)}`;
  const { patientId } = await call<{ patientId: string }>(page, "patient.register", {
    mrn: `CC${Date.now().toString(36).toUpperCase().slice(-8)}`,
    givenName: "Nora",
    familyName: family,
    dateOfBirth: "1968-03-02",
    sex: "female",
    address: { line1: "1 Old Road", city: "Springfield", postalCode: "12345", country: "US" },
  });
  await page.waitForTimeout(300);
  const beforeMove = new Date();
  await page.waitForTimeout(300);
  await call(page, "patient.updateDemographics", {
    patientId,
    expectedVersion: 1,
    changes: { address: { line1: "9 New Street", city: "Shelbyville", postalCode: "54321", country: "US" } },
    reason: "Patient moved house",
  });
  const { orderId } = await call<{ orderId: string }>(page, "order.create", { patientId, kind: "lab", details: { description: "Potassium, serum" }, priority: "stat" });
  await call(page, "order.changeStatus", { orderId, expectedVersion: 1, newStatus: "in_progress" });
  await call(page, "order.changeStatus", {
    orderId,
    expectedVersion: 2,
    newStatus: "completed",
    resultData: { Potassium: { value: 6.9, unit: "mmol/L", flag: "HH" } },
  });
  // And an allergy, after the address moved: the compare view must read it as the chart does.
  await call(page, "patient.recordAllergy", {
    patientId,
    substance: { code: "penicillin", text: "Penicillin" },
    reaction: "Anaphylaxis",
    severity: "life_threatening",
    source: "patient",
    note: null,
  });
  const chartRead = page.waitForResponse((r) => r.url().includes("patient.byId") && r.ok());
  await page.goto(`/patients/${patientId}`);
  await chartRead;
  // The critical potassium reads as critical on the chart's orders, in words and in red (it was green).
  await page.getByText(/Completed and cancelled/).click();
  const potassium = page.getByTestId("closed-orders").getByTestId("order-result");
  await expect(potassium).toHaveAttribute("data-severity", "critical");
  await expect(potassium).toContainText("Critical");
  await expect(potassium).toContainText("Result: Potassium 6.9 mmol/L (critical high)");
  await expect(potassium).toHaveCSS("color", "rgb(180, 35, 24)");
  await page.getByTestId("closed-orders").screenshot({ path: `${shots}/chart-critical-result.png` });
  // Extracts are for compliance: a clinician is refused, and so is nobody.
  expect((await page.request.get(`/api/audit/export?view=timeline&format=csv&patientId=${patientId}`)).status()).toBe(403);
  await signOut(page);
  expect((await page.request.get(`/api/audit/export?view=timeline&format=csv&patientId=${patientId}`)).status()).toBe(401);

  await signIn(page, "compliance@demo.test", "Morgan Compliance");
  await patientPage(page, patientId);
  const timeline = page.getByTestId("timeline");

  // 1. Who changed the address, when, why, and the value before: on the page itself.
  const move = timeline.getByTestId("timeline-event").filter({ has: page.getByRole("heading", { name: "Demographics updated" }) });
  await expect(move).toContainText("Casey Clinician");
  await expect(move.getByTestId("before-address")).toContainText("1 Old Road");
  await expect(move.getByTestId("after-address")).toContainText("9 New Street");
  await expect(move).toContainText("Reason: Patient moved house");
  // Lab results read as in the chart, not as JSON.
  await expect(timeline.getByTestId("result").first()).toContainText("Potassium 6.9 mmol/L (critical high)");
  // Changes to the address only (one click).
  await page.getByLabel("Changes to").selectOption("address");
  await expect(timeline.getByTestId("timeline-event")).toHaveCount(2);
  await page.getByLabel("Changes to").selectOption("");

  // 2. The chart as it was at a past moment: as it happened by then (click 1: the axis, click 2: Show).
  const travel = page.getByTestId("time-travel");
  await travel.getByRole("radio", { name: "As it happened by" }).check();
  await travel.locator("#tt-happened").fill(await localInputValue(page, beforeMove));
  await travel.getByRole("button", { name: "Show", exact: true }).click();
  await expect(page).toHaveURL(/happenedBy=/);
  await expect(travel.getByTestId("tt-zone")).toContainText(/UTC[+-]\d\d:\d\d/);
  const address = travel.getByTestId("as-of-demographics").locator("tr[data-field=address]");
  await expect(address.locator("td.then")).toContainText("1 Old Road");
  await expect(address).toHaveClass(/differs/);
  await expect(travel.getByTestId("as-of-orders")).toHaveCount(0);
  // The scrubber steps through the record's versions, each event a tick: one step on moves the view.
  await expect(travel.getByTestId("tt-tick")).toContainText(/1 of \d+: Patient registered/);
  await travel.locator("#tt-scrub").press("ArrowRight");
  await expect(travel.getByTestId("tt-tick")).toContainText(/2 of \d+: Demographics updated/);
  await expect(address.locator("td.then")).toContainText("9 New Street");
  await travel.locator("#tt-scrub").press("ArrowLeft");
  await expect(address.locator("td.then")).toContainText("1 Old Road");
  // Compared with now (click 3): the address changed, by the "Demographics updated" event; the order was added.
  await travel.getByRole("button", { name: "Compare" }).click();
  const diff = travel.getByTestId("diff");
  const patientDiff = diff.getByTestId("diff-record").filter({ has: page.getByRole("heading", { name: /Demographics/ }) });
  await expect(patientDiff.locator("tr[data-field=address]")).toContainText("9 New Street");
  await expect(patientDiff.locator("tr[data-field=address]")).toContainText("Demographics updated");
  await expect(diff.locator("[data-kind=order]")).toContainText("added");
  // Values read as the chart reads them, never as JSON or ids: the allergy as substance · reaction
  // · severity, marked new at the second moment; the order's provider by name; its instants zoned.
  const allergies = patientDiff.locator("tr[data-field='safety.allergies']");
  await expect(allergies.locator("td.diff-after")).toContainText("Penicillin · Anaphylaxis · Life-threatening");
  await expect(allergies.locator("td.diff-after li[data-mark=new]")).toHaveCount(1);
  await expect(allergies.locator("td.diff-before")).toHaveText("None");
  await expect(patientDiff.locator("tr[data-field='safety.allergyStatus']")).toContainText("Not recorded");
  const orderDiff = diff.locator("[data-kind=order]");
  await expect(orderDiff.locator("tr[data-field=providerId] td.diff-after")).toHaveText("Casey Clinician");
  await expect(orderDiff.locator("tr[data-field=details] td.diff-after")).toContainText("Description: Potassium, serum");
  await expect(orderDiff.locator("tr[data-field=resultData] td.diff-after")).toContainText("Potassium 6.9 mmol/L (critical high)");
  await expect(orderDiff.locator("tr[data-field=statusChangedAt] td.diff-after time")).toHaveText(/\d:\d\d:\d\d ?(AM|PM)? (UTC|GMT[+-]?[\d:]*|[A-Z]{2,5})$/);
  await expect(diff).not.toContainText("{");
  await expect(diff).not.toContainText("allergyId");
  await expect(orderDiff.locator("tr[data-field=orderId], tr[data-field=patientId]")).toHaveCount(0);
  // The time-travel panel scrolls on its own: a tall window shows the whole comparison.
  await page.setViewportSize({ width: 1280, height: 2400 });
  await diff.scrollIntoViewIfNeeded();
  await page.screenshot({ path: `${shots}/compliance-compare.png` });
  await page.setViewportSize({ width: 1280, height: 720 });
  await page.screenshot({ path: `${shots}/compliance-time-travel.png`, fullPage: true });

  // 3. What caused this event and what did it cause: the completion's details (one click).
  await patientPage(page, patientId);
  const completion = timeline
    .getByTestId("timeline-event")
    .filter({ has: page.getByRole("heading", { name: "Order status changed" }) })
    .filter({ hasText: "Completed" });
  await completion.getByRole("link", { name: "Details" }).click();
  const tree = page.getByTestId("causal-tree");
  await expect(tree.getByTestId("tree-command")).toContainText("Casey Clinician");
  const root = tree.getByTestId("tree-node").first();
  await expect(root).toContainText("Order status changed");
  // The flag is raised by a reaction in the background: it may take a moment to appear.
  await expect(async () => {
    await page.reload();
    await expect(root.getByTestId("tree-node")).toContainText("Critical result", { timeout: 2_000 });
  }).toPass({ timeout: 30_000 });
  await page.screenshot({ path: `${shots}/compliance-causes.png`, fullPage: true });

  // 4. Who has looked at this chart this month: on the page itself.
  await patientPage(page, patientId);
  const readers = page.getByTestId("chart-readers");
  await expect(readers.getByTestId("reader").filter({ hasText: "Casey Clinician" })).toContainText("opened the chart");

  // Proof first: the sealer signs the log in the background; verify it from the console (two clicks).
  await page.getByRole("navigation", { name: "Audit" }).getByRole("link", { name: "Integrity" }).click();
  await expect(page).toHaveURL(/\/audit\/integrity$/);
  await expect(async () => {
    await page.reload();
    await expect(page.getByTestId("latest-seal")).toContainText("number", { timeout: 2_000 });
  }).toPass({ timeout: 40_000 });
  // Sealing keeps up: how far the seals reach, what waits for one, and the sealer's last pass.
  const sealing = page.getByTestId("sealing-health");
  await expect(sealing.getByTestId("sealed-through")).toContainText("Sealed through");
  await expect(sealing.getByTestId("sealing-backlog")).toContainText(/No event is awaiting a seal|awaiting a seal, oldest \d+[smhd]/);
  await expect(sealing.getByTestId("sealer-pass").first()).toHaveAttribute("data-outcome", /^(sealed|idle)$/);
  await expect(sealing.getByTestId("sealer-pass").first()).toContainText(/sealed \d|nothing to seal/);
  await expect(sealing.getByTestId("sealing-warning")).toHaveCount(0);
  await page.getByRole("button", { name: "Verify integrity" }).click();
  await expect(page.getByTestId("verify-result")).toHaveAttribute("data-ok", "true", { timeout: 30_000 });
  // Seals signed before the last key rotation verify only with the earlier key: the page names it.
  const retiredKeyId = keyIdOf(createPublicKey(retiredAuditPublicKey));
  await page.getByTestId("earlier-keys").getByText("Earlier public keys").click();
  await expect(page.getByTestId("earlier-keys")).toContainText(retiredKeyId);
  await expect(page.getByTestId("earlier-keys")).toContainText("MCowBQYDK2VwAyEAJzIJ2FAR5");
  await page.screenshot({ path: `${shots}/compliance-integrity.png`, fullPage: true });

  // 5. An extract for the external auditor (one click): a FHIR Bundle of AuditEvents with the seal.
  await patientPage(page, patientId);
  const downloading = page.waitForEvent("download");
  await page.getByTestId("export-timeline").getByRole("link", { name: "FHIR AuditEvents" }).click();
  const download = await downloading;
  expect(download.suggestedFilename()).toMatch(/^audit-timeline-.*\.fhir\.json$/);
  const bundle = JSON.parse(readFileSync((await download.path())!, "utf8")) as {
    resourceType: string;
    entry: { resource: { resourceType: string; action: string; entity: { what: { reference?: string } }[] } }[];
    meta: { extension: { valueString: string }[] };
  };
  expect(bundle.resourceType).toBe("Bundle");
  expect(bundle.entry.length).toBeGreaterThanOrEqual(5);
  expect(bundle.entry.every((e) => e.resource.resourceType === "AuditEvent")).toBe(true);
  expect(bundle.entry[0]!.resource.entity[0]!.what.reference).toBe(`Patient/${patientId}`);
  const header = JSON.parse(bundle.meta.extension[0]!.valueString) as {
    seal: { seq: number; signature: string } | null;
    publicKey: string | null;
    earlierPublicKeys?: { keyId: string }[];
    exportedBy: { name: string };
  };
  expect(header.seal?.seq).toBeGreaterThan(0);
  expect(header.publicKey).toContain("BEGIN PUBLIC KEY");
  expect(header.earlierPublicKeys?.map((k) => k.keyId)).toEqual([retiredKeyId]);
  expect(header.exportedBy.name).toBe("Morgan Compliance");
  // The bytes as downloaded are the bytes the server signed (checked with the key the extract
  // names, here the server's own: an auditor uses the one the Integrity page publishes).
  expect(verifyExtract(readFileSync((await download.path())!), [createPublicKey(header.publicKey!)])).toMatchObject({ ok: true, format: "fhir" });

  // The printable report (one click), and the export itself in the access log.
  await page.getByTestId("report-link").click();
  await expect(page.getByTestId("audit-report")).toContainText(family);
  await expect(page.getByTestId("report-event").first()).toBeVisible();
  await page.screenshot({ path: `${shots}/compliance-report.png`, fullPage: true });
  await patientPage(page, patientId);
  await expect(page.getByTestId("chart-readers").getByTestId("reader").filter({ hasText: "Morgan Compliance" })).toContainText("exported in an audit extract");
  // And on the Integrity page: who exported which filter, in which format, with which seal.
  await page.getByRole("navigation", { name: "Audit" }).getByRole("link", { name: "Integrity" }).click();
  const made = page.getByTestId("exports-made").getByTestId("export-made").first();
  await expect(made).toContainText("Morgan Compliance");
  await expect(made).toContainText(`patientId = ${patientId}`);
  await expect(made).toContainText("FHIR");
});
