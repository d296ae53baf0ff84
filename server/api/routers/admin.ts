// Admin: the machinery's health. The outbox: how far behind it is, what keeps failing, and a dead
// letter put back in line or set aside (server/workers/deadLetters.ts, each recorded as an event).
// Snapshots: their figures, a check against the events, a discard (server/workers/snapshots.ts).
// Never event payloads or snapshot states: ids, types, counts and error summaries.
import { z } from "zod";
import { idText, operatorReason } from "../../input";
import { NotFoundError, ValidationError } from "../../errors";
import { retryDeadLetter, setAsideDeadLetter } from "../../workers/deadLetters";
import { adminProcedure, router } from "../trpc";
import { erasureReasonSchema, mrnSchema } from "../../domain/patient/events";
import { defaultHistoricSnapshotEvery, eventColumns, selectEvents } from "../../eventStore";
import { PHI_ERASED } from "../../eventStore/phi";
import { recordAccess } from "../accessLog";
import { erasePatient, eventsInClearOf } from "../erasure";
import { providerNames } from "../../projections/queries";
import { checkSnapshots, discardSnapshots, maxCheckSample, snapshotFigures } from "../../workers/snapshots";
import { env } from "../../db/env";
import { componentLogger } from "../../log";
import { snapshotted } from "../../domain/deciders";
import { backfillHistoricSnapshots, countStreamsMissingHistoricSnapshots, historicBatchMs } from "../../workers/historicSnapshots";

type StatsRow = { pending: Num; retrying: Num; dead: Num; held: Num; lag: number | string | null };
type DeadRow = { id: Num; event_id: string; event_type: string; attempts: number; last_error: string | null; dead_lettered_at: Date; handled: boolean; held: Num };
type Num = bigint | string | number;

export const adminRouter = router({
  outbox: adminProcedure.query(async ({ ctx }) => {
    const sql = ctx.db.sql;
    // "held": rows waiting behind a dead letter of their stream (the bus keeps each stream's
    // order, so they go out once the dead letter is back in line and published). Found from the
    // dead letters (few) down their streams' lines, not by asking every pending row: with an
    // outage's backlog of 100,000 that took 300 ms, every 5 s while the page was open.
    const [stats] = await sql<StatsRow>(
      `SELECT count(*) FILTER (WHERE dead_lettered_at IS NULL) AS pending,
              count(*) FILTER (WHERE dead_lettered_at IS NULL AND attempts > 0) AS retrying,
              count(*) FILTER (WHERE dead_lettered_at IS NOT NULL) AS dead,
              (SELECT count(*)
                 FROM (SELECT stream_id, min(global_position) AS first FROM outbox
                        WHERE dead_lettered_at IS NOT NULL AND processed_at IS NULL GROUP BY stream_id) d
                 JOIN outbox h ON h.stream_id = d.stream_id AND h.global_position > d.first
                WHERE h.processed_at IS NULL AND h.dead_lettered_at IS NULL) AS held,
              extract(epoch FROM now() - min(created_at) FILTER (WHERE dead_lettered_at IS NULL))::float8 AS lag
         FROM outbox
        WHERE processed_at IS NULL`,
      [],
    );
    const dead = await sql<DeadRow>(
      `SELECT o.id, o.event_id::text AS event_id, o.event_type, o.attempts, o.last_error, o.dead_lettered_at,
              o.handled_at IS NOT NULL AS handled,
              -- What follows it once it is out: its stream's later rows up to the next dead letter
              -- (which holds the rest), so the letters' figures add up to the page's total.
              (SELECT count(*) FROM outbox h
                WHERE h.stream_id = o.stream_id AND h.global_position > o.global_position
                  AND h.processed_at IS NULL AND h.dead_lettered_at IS NULL
                  AND h.global_position < coalesce(
                        (SELECT min(n.global_position) FROM outbox n
                          WHERE n.stream_id = o.stream_id AND n.global_position > o.global_position
                            AND n.dead_lettered_at IS NOT NULL AND n.processed_at IS NULL),
                        9223372036854775807)) AS held
         FROM outbox o WHERE o.dead_lettered_at IS NOT NULL AND o.processed_at IS NULL
        ORDER BY o.dead_lettered_at DESC, o.id DESC LIMIT 20`,
      [],
    );
    return {
      pending: Number(stats?.pending ?? 0),
      /** Seconds since the oldest pending row was written (0 when none is pending). */
      lagSeconds: stats?.lag == null ? 0 : Math.max(0, Number(stats.lag)),
      retrying: Number(stats?.retrying ?? 0),
      deadLettered: Number(stats?.dead ?? 0),
      /** Pending rows that wait behind a dead letter of their stream. */
      heldBehindDeadLetters: Number(stats?.held ?? 0),
      deadLetters: dead.map((r) => ({
        id: Number(r.id),
        eventId: r.event_id,
        eventType: r.event_type,
        /** Where it failed: the in-process handlers, or the message bus after them. */
        stage: r.handled ? ("bus" as const) : ("handlers" as const),
        /** Later events of its stream waiting behind it for the bus. */
        holding: Number(r.held),
        attempts: r.attempts,
        lastError: r.last_error,
        deadLetteredAt: r.dead_lettered_at,
      })),
    };
  }),

  /** Back in line from the stage it failed in; recorded (OutboxDeadLetterRetried). */
  retryDeadLetter: adminProcedure
    .input(z.object({ id: z.number().int().positive() }))
    .mutation(async ({ ctx, input }) => {
      const { id } = await retryDeadLetter(ctx.store, input.id, { userId: ctx.user.id, correlationId: ctx.correlationId });
      return { id };
    }),

  /**
   * Set aside, so the later events of its record go on without it; recorded with the reason
   * (OutboxDeadLetterSetAside). Failed in the handlers: published without their work; failed at
   * the bus: never published.
   */
  setAsideDeadLetter: adminProcedure
    .input(
      z.object({
        id: z.number().int().positive(),
        /** The stage the page showed, whose meaning the admin confirmed: refused (PRECONDITION_FAILED) if it failed in the other since. */
        stage: z.enum(["handlers", "bus"]),
        reason: operatorReason(),
      }),
    )
    .mutation(({ ctx, input }) =>
      setAsideDeadLetter(ctx.store, input.id, input.stage, input.reason, { userId: ctx.user.id, correlationId: ctx.correlationId }),
    ),

  /** Snapshots per aggregate type and state version, which of them this build uses, and the interval. */
  snapshots: adminProcedure.query(async ({ ctx }) => ({
    ...(await snapshotFigures(ctx.db, snapshotted)),
    /** A snapshot is written each time a stream crosses a multiple of this many events. */
    snapshotEvery: env().EVENTSTORE_SNAPSHOT_EVERY,
    /** Besides the newest few, one snapshot of every run of this many versions stays, for loads at old versions. */
    historicEvery: defaultHistoricSnapshotEvery,
    /** Streams with a run of versions past the first without a historic snapshot (npm run snapshots:historic writes them). */
    streamsMissingHistoric: await countStreamsMissingHistoricSnapshots(ctx.db, snapshotted),
  })),

  /**
   * Writes the historic snapshots that long streams lack, for about `historicBatchMs` (at least
   * one stream), in stream id order from after `after`; the page calls it again with the answer's
   * `lastStreamId` until `more` is false, showing the progress. A cache only: nothing is recorded
   * in the log, and two admins at once write each snapshot once.
   */
  writeHistoricSnapshots: adminProcedure.input(z.object({ after: idText.optional() })).mutation(async ({ ctx, input }) => {
    const result = await backfillHistoricSnapshots(ctx.store, snapshotted, {
      signal: AbortSignal.timeout(historicBatchMs),
      atLeast: 1,
      ...(input.after ? { after: input.after } : {}),
    });
    // Counted at the batch's start, less the streams it completed: no second count of them all.
    const remaining = Math.max(0, result.streams - (result.done - result.erased.length - result.stillMissing.length));
    componentLogger("snapshots").info(
      { streams: result.done, written: result.snapshotsWritten, stillMissing: result.stillMissing.length, remaining, correlationId: ctx.correlationId },
      "historic snapshots written",
    );
    return {
      /** Streams looked at by this call, and the snapshots written. */
      streams: result.done,
      snapshotsWritten: result.snapshotsWritten,
      /** Of those, still lacking some: a snapshot of an older state shape holds the version (discard stale ones first). */
      stillMissing: result.stillMissing.length,
      lastStreamId: result.lastStreamId,
      /** Streams after `lastStreamId` may still lack them: call again from there. */
      more: result.interrupted,
      /** Streams lacking historic snapshots, all of them: as counted when this call began, less those it completed. */
      remaining,
    };
  }),

  /**
   * The newest `sample` snapshots of each aggregate type that loads use, compared with a fold of
   * their events: how many match, and the stream ids and versions of those that do not (no state).
   */
  checkSnapshots: adminProcedure
    .input(z.object({ sample: z.number().int().min(1).max(maxCheckSample).default(50) }))
    .mutation(async ({ ctx, input }) => {
      const results = await checkSnapshots(ctx.store, snapshotted, input.sample);
      // Counts only in the log: what an operator's alerting looks for, never a stream's state.
      for (const r of results.filter((r) => r.mismatches.length > 0)) {
        componentLogger("snapshots").warn(
          { aggregateType: r.aggregateType, stateVersion: r.stateVersion, checked: r.checked, differ: r.mismatches.length, correlationId: ctx.correlationId },
          "snapshots differ from a fold of their events",
        );
      }
      return { sample: input.sample, results };
    }),

  /**
   * Deletes one aggregate type's snapshots: of state versions this build does not use, or all;
   * recorded with the reason (SnapshotsDiscarded). Loads fold from the events meanwhile.
   */
  discardSnapshots: adminProcedure
    .input(
      z.object({
        aggregateType: z.string().regex(/^[a-z][a-z0-9_-]{0,99}$/, "not an aggregate type"),
        which: z.enum(["stale", "all"]),
        reason: operatorReason(),
      }),
    )
    .mutation(({ ctx, input }) =>
      discardSnapshots(ctx.store, snapshotted, input, { userId: ctx.user.id, correlationId: ctx.correlationId }),
    ),

  /**
   * The patient an MRN names, for the erasure page's confirm step: enough to be sure it is the
   * right person (name, date of birth), no chart. Logged in the access log like any read.
   */
  findPatientForErasure: adminProcedure.input(z.object({ mrn: mrnSchema })).query(async ({ ctx, input }) => {
    const patient = await ctx.db.prisma.rmPatient.findUnique({
      where: { mrn: input.mrn },
      select: { patientId: true, mrn: true, givenName: true, familyName: true, dateOfBirth: true, registeredAt: true, erasedAt: true },
    });
    if (!patient) throw new NotFoundError("Patient with MRN", input.mrn);
    await recordAccess(ctx, { patientId: patient.patientId, procedure: "admin.findPatientForErasure" });
    // Events from before PHI protection keep their details in clear whatever the erasure does.
    const eventsInClear = patient.erasedAt ? 0 : await eventsInClearOf(ctx.store, patient.patientId);
    return { ...patient, dateOfBirth: patient.dateOfBirth ? patient.dateOfBirth.toISOString().slice(0, 10) : PHI_ERASED, eventsInClear };
  }),

  /**
   * Forgets a patient (crypto-shredding): cannot be undone. The admin types the MRN again as the
   * confirmation; the reason is recorded in the PatientErased event, in clear, so it must not
   * name the patient.
   */
  erasePatient: adminProcedure
    .input(z.object({ patientId: z.uuid(), confirmMrn: mrnSchema, reason: erasureReasonSchema }))
    .mutation(async ({ ctx, input }) => {
      const patient = await ctx.db.prisma.rmPatient.findUnique({ where: { patientId: input.patientId }, select: { mrn: true, erasedAt: true } });
      if (!patient) throw new NotFoundError("Patient", input.patientId);
      if (!patient.erasedAt && patient.mrn !== input.confirmMrn) {
        throw new ValidationError("confirmMrn: the MRN typed does not match the patient's: nothing was erased", "confirmMrn");
      }
      return erasePatient(ctx, { patientId: input.patientId, reason: input.reason });
    }),

  /** The latest erasures: who, when, why (from the PatientErased events). */
  erasures: adminProcedure.query(async ({ ctx }) => {
    const events = await selectEvents(
      ctx.store,
      `SELECT ${eventColumns} FROM events WHERE event_type = 'PatientErased' ORDER BY global_position DESC LIMIT 50`,
      [],
    );
    const names = await providerNames(ctx.db.prisma, events.map((e) => e.metadata.userId));
    return events.map((e) => ({
      eventId: e.metadata.eventId,
      patientId: String(e.data.patientId),
      reason: String(e.data.reason),
      erasedAt: e.metadata.recordedAt,
      erasedBy: names[e.metadata.userId] ?? e.metadata.userId,
    }));
  }),
});
