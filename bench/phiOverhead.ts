// 10. The cost of PHI encryption: append (batch of 5) and load (100 events, no snapshot) p50 on
// our store with the bench events' PHI declared (sealed under per-patient AES-256-GCM data keys,
// server/eventStore/phi.ts) against the same store with nothing declared, on the same database in
// the same run, interleaved sample by sample so drift hits both alike. "raw" is the unencrypted
// store here, so ours/raw is the overhead ratio (target: within 1.3×). Hooked in by bench/run.ts.
import { randomBytes } from "node:crypto";
import { appendToStream } from "../server/eventStore/append";
import { loadAggregate } from "../server/eventStore/aggregate";
import { storeOn, type Store } from "../server/eventStore/db";
import { createKeyRing, masterKeyOf } from "../server/eventStore/phi";
import { createRegistry, type EventDefinition } from "../server/eventStore/serializer";
import { aggregateType, batchFor, benchDecider, newStreamId, OrderPlaced, PatientDemographicsUpdated, PatientRegistered } from "./lib/events";
import { percentile, timed } from "./lib/stats";
import type { Figure, Workload } from "./lib/types";

const declared = (def: EventDefinition, fields: string[]): EventDefinition => ({ ...def, phi: { fields } });

/** The bench's three event types with their PHI declared as the clinical ones declare it. */
export const sealedBenchRegistry = createRegistry([
  declared(PatientRegistered, ["mrn", "givenName", "familyName", "dateOfBirth", "email", "phone", "address"]),
  declared(PatientDemographicsUpdated, ["changes.*", "previous.*", "reason"]),
  declared(OrderPlaced, ["details.*"]),
]);

async function append(store: Store, streamId: string, expected: number): Promise<number> {
  const result = await appendToStream(store, streamId, batchFor(streamId, expected, 5), { expectedVersion: expected === 0 ? "no_stream" : expected, aggregateType });
  return result.nextExpectedVersion;
}

export const phiOverhead: Workload = {
  number: 10,
  id: "phi-overhead",
  title: "PHI encryption overhead",
  async run(ctx) {
    const db = ctx.oursDatabase;
    const master = masterKeyOf(randomBytes(32));
    const stores = {
      plain: storeOn(db, createRegistry([PatientRegistered, PatientDemographicsUpdated, OrderPlaced])),
      sealed: storeOn(db, sealedBenchRegistry, createKeyRing({ current: master })),
      // Every event decrypted on every load: what a chart costs the first time it is opened.
      cold: storeOn(db, sealedBenchRegistry, createKeyRing({ current: master, maxOpened: 0 })),
    };
    const kinds = ["plain", "sealed"] as const;
    const { warmup, perRound } = ctx.sizes.latency;
    const appendMs = { plain: [] as number[], sealed: [] as number[] };
    const loadMs = { plain: [] as number[], sealed: [] as number[], cold: [] as number[] };

    // Appends: a new stream (a new patient: a new data key) every 20 appends, as row 1 does.
    const streams = { plain: { id: newStreamId(), v: 0 }, sealed: { id: newStreamId(), v: 0 } };
    const total = ctx.sizes.rounds * perRound + warmup;
    ctx.progress.step("10 PHI overhead: appends");
    for (let i = 0; i < total; i++) {
      for (const kind of i % 2 === 0 ? kinds : [...kinds].reverse()) {
        const s = streams[kind];
        if (s.v >= 100) Object.assign(s, { id: newStreamId(), v: 0 });
        const ms = await timed(async () => {
          s.v = await append(stores[kind], s.id, s.v);
        });
        if (i >= warmup) appendMs[kind].push(ms);
      }
    }

    // Loads: 100-event streams, folded from the start (no snapshot).
    ctx.progress.step("10 PHI overhead: loads");
    const loadStreams = { plain: [] as string[], sealed: [] as string[] };
    for (const kind of kinds) {
      for (let n = 0; n < ctx.sizes.load.streams100; n++) {
        const id = newStreamId();
        for (let v = 0; v < 100; ) v = await append(stores[kind], id, v);
        loadStreams[kind].push(id);
      }
    }
    const loads = ctx.sizes.load.streams100 * ctx.sizes.load.passesPerRound * ctx.sizes.rounds * 3;
    const loaders = ["plain", "sealed", "cold"] as const;
    for (let i = 0; i < loads + warmup; i++) {
      for (const kind of i % 2 === 0 ? loaders : [...loaders].reverse()) {
        const list = loadStreams[kind === "cold" ? "sealed" : kind];
        const id = list[i % list.length]!;
        const ms = await timed(() => loadAggregate(stores[kind], id, benchDecider, { useSnapshots: false }));
        if (i >= warmup) loadMs[kind].push(ms);
      }
    }

    const row = (metric: string, sealed: number[], plain: number[], note: string, targeted = true): Figure => ({
      workload: "10. PHI encryption overhead (ours sealed vs ours unencrypted)",
      metric,
      unit: "ms",
      ours: percentile(sealed, 50),
      raw: percentile(plain, 50),
      peer: null,
      target: targeted ? "≤ 1.3× unencrypted" : null,
      better: "lower",
      ...(targeted ? { check: ({ ours, raw }: { ours: number; raw: number | null }) => raw !== null && ours <= 1.3 * raw } : {}),
      note,
    });
    return [
      row("append 5 events p50", appendMs.sealed, appendMs.plain, `${appendMs.sealed.length} appends each, interleaved; raw = the same store with no PHI declared; a new patient (data key) every 20 appends`),
      row("load 100 events p50", loadMs.sealed, loadMs.plain, `${loadMs.sealed.length} loads each of ${ctx.sizes.load.streams100} streams, no snapshot, every event with PHI; data keys, opened payloads and their decodes cached as in the app (a reload reuses a copy of an unchanged payload's decode: no decrypting, no validating)`),
      row("load 100 events p50, cold", loadMs.cold, loadMs.plain, "the same loads with the opened-payload cache off: every event decrypted (AES-256-GCM) and validated on every load", false),
    ];
  },
};
