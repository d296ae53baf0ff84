// One writer of a witness file in a process of its own, for the test of writers in several
// processes (witness.unit.test.ts): tsx witnessWriter.fixture.ts <file> <database key> <seals>
// Writes seals 1..n of that database, one writeWitness each, as a sealer does after each seal.
import { writeWitness } from "./witness";

const [file, key, count] = process.argv.slice(2);
for (let seq = 1; seq <= Number(count); seq++) {
  writeWitness(file!, { key: key!, legacy: null }, { seq, to: `${seq}:${seq}`, chainHash: seq.toString(16).padStart(64, "0"), signedAt: new Date().toISOString() });
}
