// Deterministic synthetic clinical data, written through the same command path the console uses
// (deciders, handleCommand, inline read models, snapshots). Every command id derives from the
// seed, so running it again writes nothing twice. No real person's data: names are drawn from
// common-name lists, MRNs, phones and addresses are made up.
import type { Database } from "../server/db/client";
import { handleCommand, storeOn, uuidFromName, type Decider, type DomainEvent, type InlineProjector, type Store } from "../server/eventStore";
import { eventRegistry } from "../server/domain/registry";
import { patientDecider } from "../server/domain/patient/decider";
import { encounterDecider } from "../server/domain/encounter/decider";
import { orderDecider, orderTransitions } from "../server/domain/order/decider";
import { dischargeDispositions, type EncounterType } from "../server/domain/encounter/events";
import type { OrderKind, OrderPriority, OrderStatus } from "../server/domain/order/events";
import { encounterStream, orderStream, patientStream } from "../server/domain/streams";
import { projectEncounter, projectOrder, projectPatient } from "../server/projections/clinical";

const givenNames = [
  "Olivia", "Liam", "Emma", "Noah", "Amelia", "Oliver", "Sophia", "Elijah", "Isabella", "James", "Ava", "William",
  "Mia", "Benjamin", "Evelyn", "Lucas", "Harper", "Henry", "Luna", "Theodore", "Camila", "Mateo", "Gianna", "Levi",
  "Elizabeth", "Sebastian", "Eleanor", "Jack", "Ella", "Ezra", "Abigail", "Samuel", "Sofia", "Daniel", "Avery", "Leo",
  "Scarlett", "Owen", "Emily", "Asher", "Aria", "Wyatt", "Penelope", "Hiroshi", "Chloe", "Amara", "Rahul", "Fatima",
  "Mei", "Tomasz", "Ingrid", "Kwame", "Lucia", "Dmitri", "Aisha", "Mateus", "Priya", "Santiago", "Yuki", "Nadia",
];
const familyNames = [
  "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez", "Hernandez",
  "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee", "Perez",
  "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen",
  "King", "Wright", "Scott", "Torres", "Nguyen", "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall",
  "Rivera", "Campbell", "Mitchell", "Carter", "Roberts", "Okafor", "Kowalski", "Tanaka", "Patel", "Haddad",
  "Johansson", "Mensah", "Ivanova", "Chen", "O'Brien",
];
const streets = ["Maple Ave", "Oak St", "Cedar Ln", "Pine Rd", "Elm St", "Birch Way", "Willow Dr", "Lakeview Blvd", "Hillcrest Rd", "River St"];
const cities: [string, string, string][] = [
  ["Springfield", "IL", "627"],
  ["Riverton", "WY", "825"],
  ["Fairview", "OR", "970"],
  ["Greenville", "SC", "296"],
  ["Madison", "WI", "537"],
  ["Clinton", "IA", "527"],
];
const visitReasons = ["Annual physical", "Follow-up visit", "Chest pain", "Shortness of breath", "Fever and cough", "Medication review", "Abdominal pain", "Headache", "Fall at home", "Wound check", "Diabetes management", "Hypertension follow-up"];
const outcomes = ["Stable, plan discussed", "Improved, discharged with instructions", "Referred to specialist", "Symptoms resolved", "Admitted for observation", "Treatment started"];
const labTests: [string, string][] = [
  ["2345-7", "Glucose, serum"],
  ["718-7", "Hemoglobin"],
  ["2160-0", "Creatinine, serum"],
  ["4548-4", "Hemoglobin A1c"],
  ["2093-3", "Cholesterol, total"],
  ["6690-2", "White blood cell count"],
];
const imagingStudies = ["Chest X-ray, 2 views", "CT head without contrast", "Ultrasound abdomen, complete", "MRI lumbar spine"];
const medications: [string, string, string, string][] = [
  ["Amoxicillin 500 mg capsule", "500 mg", "oral", "three times daily"],
  ["Lisinopril 10 mg tablet", "10 mg", "oral", "once daily"],
  ["Metformin 500 mg tablet", "500 mg", "oral", "twice daily"],
  ["Ibuprofen 400 mg tablet", "400 mg", "oral", "every 6 hours as needed"],
  ["Ceftriaxone 1 g injection", "1 g", "intravenous", "once daily"],
];
const demoAllergies: ["latex" | "peanut" | "shellfish" | "sulfonamide" | "codeine", string, string][] = [
  ["latex", "Latex", "Contact dermatitis"],
  ["peanut", "Peanut", "Anaphylaxis"],
  ["shellfish", "Shellfish", "Hives"],
  ["sulfonamide", "Sulfonamide antibiotics (sulfa)", "Rash"],
  ["codeine", "Codeine", "Nausea and vomiting"],
];
const procedures = ["Wound dressing change", "Suture removal", "Joint injection", "Spirometry"];
const referrals = ["Cardiology consult", "Physical therapy evaluation", "Dermatology consult", "Nutrition counselling"];

/** A small, fast, seedable PRNG (mulberry32): the same seed gives the same hospital. */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (min: number, max: number) => min + Math.floor(next() * (max - min + 1)),
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!,
    chance: (p: number) => next() < p,
  };
}

/** Deterministic ids for patients, encounters, orders and commands. */
const uuidFrom = (label: string) => uuidFromName(`emr-demo:${label}`);
/** The command id of a seed command, by its label. */
export const demoCommandId = (label: string) => uuidFrom(`cmd:${label}`);
/** The i-th demo patient's id: the same in every run, so a seed cut short can be told and resumed. */
export const demoPatientId = (i: number) => uuidFrom(`patient:${i}`);

export const demoProviders = [
  { id: "demo-provider-1", name: "Dr. Maya Okonkwo", email: "m.okonkwo@provider.demo.test" },
  { id: "demo-provider-2", name: "Dr. Jonas Lindqvist", email: "j.lindqvist@provider.demo.test" },
  { id: "demo-provider-3", name: "Dr. Aiko Watanabe", email: "a.watanabe@provider.demo.test" },
  { id: "demo-provider-4", name: "NP Daniel Reyes", email: "d.reyes@provider.demo.test" },
];

/** The demo's present when none is given: fixed, for tests. */
export const demoFixedPresent = Date.UTC(2026, 10, 20, 9, 0, 0);

export type DemoOptions = {
  patients: number;
  /** Patients whose charts get long enough (> snapshot interval) to have snapshots. */
  longCharts?: number;
  snapshotEvery: number;
  progress?: (done: number, total: number) => void;
  seed?: number;
  /**
   * The first patient to seed (default 0): start-up resumes a seed cut short from the last
   * patient it finds, whose charts may be half written. Each patient's data depends only on
   * its index, so a later start gives the same hospital as one run.
   */
  from?: number;
  /**
   * The demo's present (ms since the epoch): every history ends before it, and the orders still
   * open were placed in the two days before it. Start-up gives the moment it first seeds
   * (demoPresentFor), so a newcomer's worklist is today's; a resumed seed gives the same one
   * again. Default: a fixed moment, so a test gets the same hospital every run.
   */
  present?: number;
  /** Called before each command with its label and time (tests stop a seed there, as a kill would). */
  beforeCommand?: (label: string, now: Date) => void;
  /** Only name the commands (to beforeCommand): nothing is read or written. */
  dryRun?: boolean;
};

async function ensureProviders(db: Database) {
  for (const p of demoProviders) {
    // Providers for the demo: users without credentials (they cannot sign in).
    await db.prisma.$executeRawUnsafe(
      `INSERT INTO auth_users (id, name, email, email_verified, roles) VALUES ($1, $2, $3, false, '{clinician}')
       ON CONFLICT (id) DO NOTHING`,
      p.id,
      p.name,
      p.email,
    );
  }
}

export async function seedClinicalDemo(db: Database, options: DemoOptions): Promise<{ events: number; patients: number }> {
  if (!options.dryRun) await ensureProviders(db);
  const seed = options.seed ?? 20261127;
  const store: Store = storeOn(db, eventRegistry);
  const snapshotEvery = options.snapshotEvery;
  const longCharts = options.longCharts ?? 3;
  const dayMs = 86_400_000;
  const today = options.present ?? demoFixedPresent;
  let events = 0;

  async function run<C extends { metadata: { now: Date } }, E extends DomainEvent, S>(
    streamId: string,
    decider: Decider<C, E, S>,
    command: C,
    label: string,
    project: InlineProjector<S>,
    userId: string,
  ) {
    options.beforeCommand?.(label, command.metadata.now);
    if (options.dryRun) return;
    const result = await handleCommand(
      store,
      streamId,
      decider,
      command,
      { userId, correlationId: uuidFrom(`corr:${label}`), commandId: demoCommandId(label) },
      { snapshotEvery, checkRepeat: true, project },
    );
    events += result.events.length;
  }

  for (let i = options.from ?? 0; i < options.patients; i++) {
    // One generator per patient, and no branching on what the store answered: a re-run (or a
    // run over a partly seeded database) makes the same commands, which the store then skips.
    const r = rng(seed + i * 7919);
    // Each event is recorded by the clinician who did it, as the audit views show: the chart's
    // registration and corrections by one provider, each encounter and its orders by the
    // encounter's provider. (One draw here, as before, so the hospital itself stays the same.)
    const registrar = r.pick(demoProviders).id;
    const patientId = demoPatientId(i);
    const givenName = r.pick(givenNames);
    const familyName = r.pick(familyNames);
    const sex = r.chance(0.49) ? "female" : r.chance(0.96) ? "male" : r.pick(["other", "unknown"] as const);
    const birthYear = r.int(1935, 2023);
    const dob = `${birthYear}-${String(r.int(1, 12)).padStart(2, "0")}-${String(r.int(1, 28)).padStart(2, "0")}`;
    const [city, region, zip] = r.pick(cities);
    let at = today - r.int(60, 720) * dayMs;
    await run(
      patientStream(patientId),
      patientDecider,
      {
        type: "RegisterPatient",
        data: {
          patientId,
          mrn: `MRN${String(100000 + i * 7 + r.int(0, 6)).padStart(6, "0")}`,
          givenName,
          familyName,
          dateOfBirth: dob,
          sex,
          email: r.chance(0.7) ? `${givenName}.${familyName}${i}@example.test`.toLowerCase().replace(/[^a-z0-9.@]/g, "") : null,
          phone: r.chance(0.85) ? `+1 555 01${String(r.int(0, 99)).padStart(2, "0")}` : null,
          address: r.chance(0.8)
            ? { line1: `${r.int(1, 9999)} ${r.pick(streets)}`, city, region, postalCode: `${zip}${String(r.int(0, 99)).padStart(2, "0")}`, country: "US" }
            : null,
        },
        metadata: { now: new Date(at) },
      },
      `patient:${i}:register`,
      projectPatient,
      registrar,
    );
    const patient = { exists: true as const, active: true };

    // Allergies as a ward would have them: most asked ("no known allergies"), some with one, the
    // rest not recorded yet. A generator of its own, so the rest of the hospital stays the same;
    // substances that no demo medication order runs into.
    const s = rng(seed + i * 7919 + 1);
    const allergyAt = new Date(at + 10 * 60_000);
    if (s.chance(0.2)) {
      const [code, text, reaction] = s.pick(demoAllergies);
      await run(
        patientStream(patientId),
        patientDecider,
        {
          type: "RecordAllergy",
          data: { patientId, allergyId: uuidFrom(`allergy:${i}`), substance: { code, text }, reaction, severity: s.pick(["mild", "moderate", "severe"] as const), source: "patient", note: null },
          metadata: { now: allergyAt },
        },
        `patient:${i}:allergy`,
        projectPatient,
        registrar,
      );
    } else if (s.chance(0.7)) {
      await run(patientStream(patientId), patientDecider, { type: "RecordNoKnownAllergies", data: { patientId }, metadata: { now: allergyAt } }, `patient:${i}:nka`, projectPatient, registrar);
    }

    // Some demographic corrections, and for a few long charts, many (past the snapshot interval).
    const edits = i < longCharts ? snapshotEvery + 12 + i * 5 : r.chance(0.35) ? r.int(1, 2) : 0;
    for (let k = 0; k < edits; k++) {
      at += r.int(1, 20) * 3_600_000;
      const change = r.pick(["phone", "email", "address"] as const);
      const changes =
        change === "phone"
          ? { phone: `+1 555 02${String(k % 100).padStart(2, "0")}` }
          : change === "email"
            ? { email: `${givenName}.${familyName}.${k}@example.test`.toLowerCase().replace(/[^a-z0-9.@]/g, "") }
            : { address: { line1: `${r.int(1, 9999)} ${r.pick(streets)}`, city, region, postalCode: `${zip}${String(k % 100).padStart(2, "0")}`, country: "US" } };
      await run(
        patientStream(patientId),
        patientDecider,
        {
          type: "UpdatePatientDemographics",
          data: { patientId, changes, reason: r.pick(["Patient update at front desk", "Corrected typo", "Patient moved", "Updated from referral letter"]) },
          metadata: { now: new Date(at) },
        },
        `patient:${i}:edit:${k}`,
        projectPatient,
        registrar,
      );
    }

    const encounterCount = r.int(1, 4);
    // Some patients are under care now: their last visit began in the last day and a half and is
    // still open, so the census and the worklist have today's patients. A generator of its own, as
    // for allergies.
    const c = rng(seed + i * 7919 + 2);
    const underCareSince = c.chance(0.12) ? today - c.int(1, 36) * 3_600_000 : null;
    for (let e = 0; e < encounterCount; e++) {
      const encounterId = uuidFrom(`encounter:${i}:${e}`);
      at += r.int(2, 60) * dayMs;
      if (at > today) at = today - r.int(1, 48) * 3_600_000;
      if (underCareSince !== null && e === encounterCount - 1 && at < underCareSince) at = underCareSince;
      const startedAt = new Date(at);
      const encounterType: EncounterType = r.pick(["outpatient", "outpatient", "outpatient", "emergency", "inpatient", "telehealth", "home_visit"]);
      const providerId = r.pick(demoProviders).id;
      await run(
        encounterStream(encounterId),
        encounterDecider,
        {
          type: "StartEncounter",
          data: { encounterId, patientId, providerId, encounterType, startedAt, reason: r.pick(visitReasons), patient },
          metadata: { now: startedAt },
        },
        `encounter:${i}:${e}:start`,
        projectEncounter,
        providerId,
      );
      const encounter = { exists: true as const, patientId, status: "in_progress" as const };

      const orderCount = r.int(0, 3);
      for (let o = 0; o < orderCount; o++) {
        const orderId = uuidFrom(`order:${i}:${e}:${o}`);
        const kind: OrderKind = r.pick(["lab", "lab", "lab", "imaging", "medication", "medication", "procedure", "referral"]);
        const priority: OrderPriority = r.chance(0.1) ? "stat" : r.chance(0.25) ? "urgent" : "routine";
        const placedAt = new Date(startedAt.getTime() + r.int(5, 90) * 60_000);
        const details =
          kind === "lab"
            ? (([code, description]) => ({ code, description }))(r.pick(labTests))
            : kind === "imaging"
              ? { description: r.pick(imagingStudies) }
              : kind === "medication"
                ? (([description, dose, route, frequency]) => ({ description, dose, route, frequency }))(r.pick(medications))
                : { description: kind === "procedure" ? r.pick(procedures) : r.pick(referrals) };
        await run(
          orderStream(orderId),
          orderDecider,
          {
            type: "CreateOrder",
            data: { orderId, patientId, encounterId, providerId, kind, details, priority, patient, encounter },
            metadata: { now: placedAt },
          },
          `order:${i}:${e}:${o}:create`,
          projectOrder,
          providerId,
        );
        // Walk the order some way through its lifecycle; recent ones stay open for the worklist.
        // Widened: change() moves it on, which narrowing cannot see.
        let status = "placed" as OrderStatus;
        let t = placedAt.getTime();
        let s = 0;
        const change = async (next: OrderStatus, reason: string | null, resultData: Record<string, string | number> | null) => {
          await run(
            orderStream(orderId),
            orderDecider,
            { type: "ChangeOrderStatus", data: { orderId, newStatus: next, reason, resultData }, metadata: { now: new Date(t) } },
            `order:${i}:${e}:${o}:status:${s}`,
            projectOrder,
            providerId,
          );
          status = next;
          s++;
        };
        // Open orders are a ward's current work: placed in the last two days, so the worklist's
        // overdue marks are hours, as on a real one, not the weeks an older order would show.
        const recent = today - placedAt.getTime() < 2 * dayMs;
        const steps = recent ? r.int(0, 1) : r.int(1, 3);
        for (let step = 0; step < steps; step++) {
          const choices: readonly OrderStatus[] = orderTransitions[status];
          if (choices.length === 0) break;
          const next: OrderStatus = choices.includes("completed") && r.chance(0.85) ? "completed" : choices.includes("in_progress") && r.chance(0.8) ? "in_progress" : r.pick(choices);
          t += r.int(10, 600) * 60_000;
          // Nothing happens after the demo's present: a step it has not reached is still to come.
          if (t > today) break;
          const resulting = next === "completed" && (kind === "lab" || kind === "imaging");
          await change(
            next,
            next === "cancelled" ? r.pick(["Duplicate order", "Patient declined", "No longer indicated"]) : next === "on_hold" ? "Awaiting patient consent" : null,
            resulting
              ? kind === "lab"
                ? { value: Math.round(r.next() * 1000) / 10, unit: r.pick(["mmol/L", "g/dL", "mg/dL", "%"]), flag: r.chance(0.2) ? "H" : "N" }
                : { impression: r.pick(["No acute findings", "Mild degenerative change", "Small effusion, follow-up advised"]) }
              : null,
          );
        }
        // A hospital closes its old orders: one placed days ago is done or withdrawn by now, not
        // overdue on today's worklist. Decided from the order's id, not the random stream, so the
        // rest of the demo hospital stays as it was.
        if (!recent) {
          const pick = Number.parseInt(orderId.slice(0, 4), 16);
          if (status === "on_hold") {
            t += dayMs;
            await change("cancelled", "Not resumed after the hold", null);
          }
          if (status === "placed") {
            t += (30 + (pick % 300)) * 60_000;
            await change("in_progress", null, null);
          }
          if (status === "in_progress") {
            t += (20 + (pick % 600)) * 60_000;
            const result: Record<string, string | number> | null =
              kind === "lab"
                ? { value: (pick % 1000) / 10, unit: ["mmol/L", "g/dL", "mg/dL", "%"][pick % 4]!, flag: pick % 5 === 0 ? "H" : "N" }
                : kind === "imaging"
                  ? { impression: ["No acute findings", "Mild degenerative change", "Small effusion, follow-up advised"][pick % 3]! }
                  : null;
            await change("completed", null, result);
          }
        }
      }

      // Older encounters are completed; the most recent ones may still be open.
      const endAt = startedAt.getTime() + r.int(15, encounterType === "inpatient" ? 4_320 : 180) * 60_000;
      // A few stay open a while (the census's current patients): a visit of the last two days, a
      // stay of the last fortnight. One begun before that was closed long ago, whatever was drawn.
      const keptOpen = !r.chance(0.85);
      const stale = startedAt.getTime() < today - (encounterType === "inpatient" ? 14 : 2) * dayMs;
      const beingSeen = underCareSince !== null && e === encounterCount - 1;
      if (endAt < today - 2 * 3_600_000 && (!keptOpen || stale) && !beingSeen) {
        await run(
          encounterStream(encounterId),
          encounterDecider,
          {
            type: "CompleteEncounter",
            data: { encounterId, endedAt: new Date(endAt), outcome: r.pick(outcomes), dischargeDisposition: r.chance(0.8) ? "home" : r.pick(dischargeDispositions) },
            metadata: { now: new Date(endAt) },
          },
          `encounter:${i}:${e}:complete`,
          projectEncounter,
          providerId,
        );
      }
      at = Math.max(at, startedAt.getTime());
    }
    options.progress?.(i + 1, options.patients);
  }
  return { events, patients: options.patients };
}
