// Demo data: the demo users (one per role) and a synthetic hospital's patients, encounters and
// orders, written through the console's own command path. `npm run db:seed` runs it on demand;
// `npm start` runs it when the database has no patients yet.
import type { Database } from "../server/db/client";
import type { Env } from "../server/db/env";
import { seedDemoUsers } from "../server/auth/demoUsers";
import { demoPatientId, seedClinicalDemo } from "./demoData";

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

export async function seedClinical(db: Database, e: Env): Promise<void> {
  const started = Date.now();
  const result = await seedClinicalDemo(db, {
    patients: e.DEMO_PATIENTS,
    snapshotEvery: e.EVENTSTORE_SNAPSHOT_EVERY,
    progress: progressLine("seeding demo data"),
  });
  console.log(`demo data: ${result.patients} patients, ${result.events} events in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

/**
 * Whether start-up seeds the demo: into an empty database, or again when an earlier start was
 * stopped while seeding (its first patient is there, not all of them): the seed is deterministic
 * and skips what is stored, so it resumes. A database of other patients is left alone.
 */
export async function demoToSeed(db: Database, patients: number): Promise<boolean> {
  if ((await db.prisma.rmPatient.count()) === 0) return true;
  const ids = Array.from({ length: patients }, (_, i) => demoPatientId(i));
  const stored = await db.prisma.rmPatient.findMany({ where: { patientId: { in: ids } }, select: { patientId: true } });
  const found = stored.length;
  const begun = stored.some((p) => p.patientId === ids[0]);
  if (begun && found < patients) console.log(`demo data: an earlier start stopped while seeding (${found} of ${patients} patients): resuming`);
  return begun && found < patients;
}

/** Start-up: demo users where allowed, and the synthetic hospital into an empty database (or one whose seeding was cut short). */
export async function prepareDemo(db: Database, e: Env): Promise<void> {
  // The credentials are printed last, so they are on screen when the console is up.
  const credentials: string[] = [];
  const users = await seedDemoUsers(db, e, { log: (line) => credentials.push(line) });
  const seedPatients = e.DEMO_PATIENTS > 0 && (e.NODE_ENV !== "production" || e.SEED_DEMO_USERS === "true");
  if (seedPatients && (await demoToSeed(db, e.DEMO_PATIENTS))) await seedClinical(db, e);
  if (users.seeded) for (const line of credentials) console.log(line);
}

async function main() {
  const { openDatabase } = await import("../server/db/client");
  const { env } = await import("../server/db/env");
  const { migrate } = await import("../server/db/migrate");
  const e = env();
  const db = await openDatabase({ url: e.DATABASE_URL, dataDir: e.PGLITE_DIR, poolMax: 4 });
  try {
    await migrate(db);
    await seedDemoUsers(db, e);
    await seedClinical(db, e);
  } finally {
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
