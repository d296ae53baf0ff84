// Demo data: the demo users (one per role) and a synthetic hospital's patients, encounters and
// orders, written through the console's own command path. `npm run db:seed` runs it on demand;
// `npm start` runs it when the database has no patients yet.
import type { Database } from "../server/db/client";
import type { Env } from "../server/db/env";
import { seedDemoUsers } from "../server/auth/demoUsers";
import { eventIdFor } from "../server/eventStore";
import { demoCommandId, demoFixedPresent, demoPatientId, seedClinicalDemo } from "./demoData";

function progressLine(label: string) {
  const tty = process.stdout.isTTY;
  let last = -1;
  const started = Date.now();
  return (done: number, total: number) => {
    const pct = Math.floor((done / total) * 100);
    if (pct === last && done !== total) return;
    last = pct;
    const line = `${label}: ${done}/${total} patients (${pct}%) ${((Date.now() - started) / 1000).toFixed(1)} s`;
    if (tty) process.stdout.write(`\r${line}${done === total ? "\n" : ""}`);
    else if (pct % 10 === 0 || done === total) console.log(line);
  };
}

/**
 * The demo hospital's present: for a first seed, two hours before this hour (an order placed at
 * the end of a visit begun an hour before it is still in the past), so the worklist, the census
 * and the reports are of the last days, not of a fixed date receding into the past; for a seed resumed over stored demo patients,
 * the one they were written with, read back from the first patient's registration: the commands
 * sent again must be the ones stored.
 */
export async function demoPresentFor(db: Database, plan: DemoPlan, options: { snapshotEvery: number }, now = Date.now()): Promise<number> {
  const hourMs = 3_600_000;
  if (plan.stored === 0) return Math.floor(now / hourMs) * hourMs - 2 * hourMs;
  // The first patient's commands as a dry run at the fixed present: the first is the registration.
  const commands: { label: string; at: Date }[] = [];
  await seedClinicalDemo(db, { ...options, patients: 1, dryRun: true, present: demoFixedPresent, beforeCommand: (label, at) => commands.push({ label, at }) });
  const registration = commands[0];
  if (!registration) return demoFixedPresent;
  const [row] = await db.sql<{ occurred_at: Date }>("SELECT occurred_at FROM events WHERE event_id = $1::uuid", [eventIdFor(demoCommandId(registration.label), 0)]);
  return row ? demoFixedPresent + (new Date(row.occurred_at).getTime() - registration.at.getTime()) : demoFixedPresent;
}

export async function seedClinical(db: Database, e: Env, plan: DemoPlan = { from: 0, stored: 0 }): Promise<void> {
  const started = Date.now();
  const present = await demoPresentFor(db, plan, { snapshotEvery: e.EVENTSTORE_SNAPSHOT_EVERY });
  // Every patient there: only the last one is completed.
  const completing = plan.stored >= e.DEMO_PATIENTS;
  const result = await seedClinicalDemo(db, {
    patients: e.DEMO_PATIENTS,
    snapshotEvery: e.EVENTSTORE_SNAPSHOT_EVERY,
    from: plan.from,
    present,
    ...(completing ? {} : { progress: progressLine("seeding demo data") }),
  });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  console.log(
    completing
      ? `demo data: an earlier start stopped while seeding patient ${plan.from + 1} of ${result.patients}: completed it (${result.events} events)`
      : plan.from === 0
        ? `demo data: ${result.patients} patients, ${result.events} events in ${seconds} s`
        : `demo data: ${result.patients} patients, ${result.events} events written now (from patient ${plan.from + 1}) in ${seconds} s`,
  );
}

/** Where start-up seeds the demo from (a patient's index), and how many demo patients were stored. */
export type DemoPlan = { from: number; stored: number };

/** Whether every command of the i-th demo patient is stored (named by a dry run of the seed; nothing is decrypted). */
async function demoPatientComplete(db: Database, i: number, options: { snapshotEvery: number; longCharts?: number }): Promise<boolean> {
  const ids: string[] = [];
  await seedClinicalDemo(db, { ...options, patients: i + 1, from: i, dryRun: true, beforeCommand: (label) => ids.push(eventIdFor(demoCommandId(label), 0)) });
  const [row] = await db.sql<{ n: number }>("SELECT count(*)::int AS n FROM events WHERE event_id = ANY ($1::uuid[])", [ids]);
  return row?.n === ids.length;
}

/**
 * Whether start-up seeds the demo, and from where: an empty database from its first patient; one
 * whose first demo patient is stored from the last one stored, when that patient's commands are
 * not all stored (a start stopped while seeding it: a count of patients cannot tell a chart
 * registered from one with its encounters and orders) or from the one after, when DEMO_PATIENTS
 * asks for more. The last chart is judged by its commands' ids, not re-run: a demo patient
 * erased since cannot be re-run. A database of other patients (no demo patient) is left alone.
 * null: nothing to seed.
 */
export async function demoToSeed(db: Database, options: { patients: number; snapshotEvery: number; longCharts?: number }): Promise<DemoPlan | null> {
  const { patients } = options;
  if ((await db.prisma.rmPatient.count()) === 0) return { from: 0, stored: 0 };
  const ids = Array.from({ length: patients }, (_, i) => demoPatientId(i));
  const index = new Map(ids.map((id, i) => [id, i]));
  const stored = await db.prisma.rmPatient.findMany({ where: { patientId: { in: ids } }, select: { patientId: true } });
  const found = new Set(stored.map((p) => index.get(p.patientId)!));
  if (!found.has(0)) return null;
  // Patients are seeded in order, so those stored are the first ones; a gap is resumed from too.
  let from = 0;
  while (from + 1 < patients && found.has(from + 1)) from++;
  if (await demoPatientComplete(db, from, options)) from++;
  if (from >= patients) return null;
  if (found.size < patients) console.log(`demo data: ${found.size} of ${patients} patients stored (an earlier start stopped while seeding, or DEMO_PATIENTS grew): seeding the rest`);
  return { from, stored: found.size };
}

/** Start-up: demo users where allowed, and the synthetic hospital into an empty database (or one whose seeding was cut short). */
export async function prepareDemo(db: Database, e: Env): Promise<void> {
  // The credentials are printed last, so they are on screen when the console is up.
  const credentials: string[] = [];
  const users = await seedDemoUsers(db, e, { log: (line) => credentials.push(line) });
  const seedPatients = e.DEMO_PATIENTS > 0 && (e.NODE_ENV !== "production" || e.SEED_DEMO_USERS === "true");
  const plan = seedPatients ? await demoToSeed(db, { patients: e.DEMO_PATIENTS, snapshotEvery: e.EVENTSTORE_SNAPSHOT_EVERY }) : null;
  if (plan) await seedClinical(db, e, plan);
  if (users.seeded) for (const line of credentials) console.log(line);
}

/**
 * npm run db:seed's hospital: resumed where the stored demo ends, as at start-up, not re-run from
 * the first patient. A repeat of a command about a demo patient erased since is refused (nothing
 * more is recorded about an erased patient): a re-run stopped there with exit 1. A database of
 * other patients and no demo gets the demo beside them, since it was asked for.
 */
export async function seedDemo(db: Database, e: Env): Promise<void> {
  const plan = await demoToSeed(db, { patients: e.DEMO_PATIENTS, snapshotEvery: e.EVENTSTORE_SNAPSHOT_EVERY });
  if (plan) return seedClinical(db, e, plan);
  if (await db.prisma.rmPatient.findUnique({ where: { patientId: demoPatientId(0) }, select: { patientId: true } })) {
    console.log(`demo data: all ${e.DEMO_PATIENTS} patients stored`);
    return;
  }
  await seedClinical(db, e);
}

async function main() {
  const { openDatabase } = await import("../server/db/client");
  const { env } = await import("../server/db/env");
  const { migrate } = await import("../server/db/migrate");
  const { checkPhiKeysAtStart } = await import("../server/db/phiKey");
  const { flushRollupsAtExit } = await import("../server/metrics/rollups");
  const e = env();
  const db = await openDatabase({ url: e.DATABASE_URL, dataDir: e.PGLITE_DIR, poolMax: 4 });
  try {
    await migrate(db);
    // As at start-up: a lost development key is said so, and no new one is made over the data.
    await checkPhiKeysAtStart(db.sql, e);
    await seedDemoUsers(db, e);
    await seedDemo(db, e);
  } finally {
    await flushRollupsAtExit(db.prisma);
    await db.close();
  }
}

// Run as a script (npm run db:seed), not when imported by start-up.
if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((error: unknown) => {
    console.error((error as Error).message);
    process.exit(1);
  });
}
