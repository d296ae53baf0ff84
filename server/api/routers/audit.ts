// Compliance: who read which patient's data, and what changed, when, by whom and why: the event
// log with filters, one event with its causes and effects, a patient's timeline and the record as
// it was at any past instant. Every answer that carries patient data records the read first.
import { z } from "zod";
import { safetyNames, type PatientSafety } from "../../../shared/clinical/safety";
import { NotFoundError } from "../../errors";
import type { StoredEvent } from "../../eventStore";
import { snapshotted } from "../../domain/deciders";
import { groupEventTypes } from "../../domain/registry";
import {
  eventDetail,
  patientIdsOf,
  patientStreams,
  patientTimeline,
  recordAt,
  recordDiff,
  recordTicks,
  searchEvents,
} from "../../projections/audit";
import { patientStreamIds, providerNames } from "../../projections/queries";
import { patientSearchInput, searchPatients } from "../patientSearch";
import { groupCursor, mustExist, patientLabels, readAccessLog, readersOfPatient, recordAccess, rowCursor, summaryCursor, userActivity } from "../accessLog";
import { emergencyCursor, emergencyReviewQueue, listEmergencyAccesses, reviewEmergencyAccess, reviewNoteInput, reviewStatus } from "../emergencyAccess";
import { historyItems } from "../historyItem";
import type { Context } from "../context";
import { complianceProcedure, router } from "../trpc";
import { tolerantStore } from "../undecodable";
import { demographicFieldInput } from "../../../shared/clinical/patients";
import { filterInstant, idText, pageLimit, positionInput, text } from "../../input";
import { PHI_ERASED } from "../../eventStore/phi";
import { env } from "../../db/env";
import { commandIdOfCausation, keyIdOf, type Moment } from "../../eventStore";
import { readSealingState, recentSealerPasses, SEALING_LATE_AFTER_SECONDS } from "../../audit/sealerStatus";
import { earlierPublicKeys, publicKeyPem, verifyingKeys } from "../../audit/signingKey";
import { startVerification, verificationById } from "../../audit/verification";

const id = idText;
const patientId = z.uuid("patient id must be a uuid");
const eventType = z.string().regex(/^[A-Za-z][A-Za-z0-9_.]{0,99}$/, "not an event type name");
// Staff users' streams ("user-<id>": created, roles changed) are audited beside the clinical ones.
const aggregateTypes = [...snapshotted.map((d) => d.aggregateType), "user", "operations"];

/** A moment of time travel: as recorded at, as it happened by, or both (a left-out axis is "now"). */
const momentInput = z.object({ recordedAt: filterInstant.optional(), happenedBy: filterInstant.optional() });

/** Fields of a record's state that hold a user id: the compare view shows them by name. */
const userFields = new Set(["providerId"]);

const beforeFrom = <T extends { from?: Date; to?: Date }>(f: T) => !f.from || !f.to || f.from < f.to;

/** The rows the audit screens list: the history item, and which patient it is about (if any). */
async function auditItems(ctx: Pick<Context, "db">, events: readonly StoredEvent[]) {
  const [patients, items] = await Promise.all([patientIdsOf(ctx.db.prisma, events), historyItems(ctx.db.prisma, events)]);
  const byId = new Map(items.map((i) => [i.eventId, { ...i, patientId: patients.get(i.eventId) ?? null }]));
  const item = (event: StoredEvent) => byId.get(event.metadata.eventId)!;
  const patientIds = [...new Set([...patients.values()].filter((p): p is string => p !== null))];
  return { item, patientIds };
}

/** The record at a moment with its providers' names, the read recorded under the procedure that asked. */
async function recordWithNames(ctx: Context & { user: NonNullable<Context["user"]> }, patientId: string, moment: Moment, procedure: string) {
  const record = await recordAt(ctx.store, patientId, moment);
  if (!record) throw new NotFoundError("Patient", patientId);
  const users = await providerNames(ctx.db.prisma, [...record.encounters.map((e) => e.state.providerId), ...record.orders.map((o) => o.state.providerId)]);
  await recordAccess(ctx, { patientId, procedure });
  return { ...record, users };
}

export const auditRouter = router({
  /**
   * The read-access log, one row per screen view, newest first; filter by patient, user and time
   * ([from, to)). A patient or user that does not exist is NOT_FOUND, never an empty log: an
   * empty answer must mean "nobody read it", not "you typed something we could not match".
   */
  accessLog: complianceProcedure
    .input(
      z
        .object({
          patientId: patientId.optional(),
          userId: id.optional(),
          from: filterInstant.optional(),
          to: filterInstant.optional(),
          cursor: rowCursor.optional(),
          limit: pageLimit(200, 50),
        })
        .refine(beforeFrom, { message: "from must be before to", path: ["to"] }),
    )
    .query(async ({ ctx, input }) => {
      await mustExist(ctx, input);
      const log = await readAccessLog(ctx.db, input);
      // Each row names its patient (name and MRN): a listing like audit.patients', recorded as one.
      const named = log.rows.filter((r) => r.patient !== null).map((r) => r.patientId);
      await recordAccess(ctx, { patientIds: named, procedure: "audit.accessLog", screen: "audit_access_log" });
      return log;
    }),

  /** "Who has looked at this chart?": the patient's screen views in [from, to), grouped by user, in words. */
  readers: complianceProcedure
    .input(
      z
        .object({
          patientId,
          from: filterInstant.optional(),
          to: filterInstant.optional(),
          cursor: groupCursor.optional(),
          limit: pageLimit(100, 25),
        })
        .refine(beforeFrom, { message: "from must be before to", path: ["to"] }),
    )
    .query(async ({ ctx, input }) => {
      await mustExist(ctx, input);
      return readersOfPatient(ctx.db, input);
    }),

  /** Per user across patients in [from, to): charts opened, views, lists; most charts first (snooping). */
  userActivity: complianceProcedure
    .input(
      z
        .object({
          userId: id.optional(),
          from: filterInstant.optional(),
          to: filterInstant.optional(),
          cursor: summaryCursor.optional(),
          limit: pageLimit(100, 25),
        })
        .refine(beforeFrom, { message: "from must be before to", path: ["to"] }),
    )
    .query(async ({ ctx, input }) => {
      await mustExist(ctx, input);
      return userActivity(ctx.db, input);
    }),

  /**
   * The names of a patient and a user picked in the access log's filter, which the URL holds by
   * id (Back, a reload or a shared link restore the pick): null for one not on file. The patient's
   * name and MRN are recorded as listed in the access log, as its rows that name them are.
   */
  filterLabels: complianceProcedure
    .input(z.object({ patientId: patientId.optional(), userId: id.optional() }))
    .query(async ({ ctx, input }) => {
      const [patient, user] = await Promise.all([
        input.patientId ? patientLabels(ctx.db, [input.patientId]).then((m) => m.get(input.patientId!) ?? null) : null,
        input.userId ? ctx.db.prisma.user.findUnique({ where: { id: input.userId }, select: { name: true, email: true } }) : null,
      ]);
      if (patient && input.patientId) await recordAccess(ctx, { patientId: input.patientId, procedure: "audit.filterLabels", screen: "audit_access_log" });
      return { patient, user };
    }),

  /** Staff by name or email, for the user pickers (names, not ids). */
  users: complianceProcedure
    .input(z.object({ search: text(100).default(""), limit: pageLimit(50, 20) }))
    .query(async ({ ctx, input }) => {
      const users = await ctx.db.prisma.user.findMany({
        where: input.search
          ? { OR: [{ name: { contains: input.search, mode: "insensitive" } }, { email: { contains: input.search, mode: "insensitive" } }] }
          : {},
        select: { id: true, name: true, email: true },
        orderBy: [{ name: "asc" }, { id: "asc" }],
        take: input.limit,
      });
      return { users };
    }),

  /** Break-the-glass accesses, newest first: needing review, reviewed, or all. */
  emergencyAccesses: complianceProcedure
    .input(
      z.object({
        status: reviewStatus.default("needs_review"),
        patientId: patientId.optional(),
        cursor: emergencyCursor.optional(),
        limit: pageLimit(100, 25),
      }),
    )
    .query(async ({ ctx, input }) => {
      const page = await listEmergencyAccesses(ctx.db, input);
      await recordAccess(ctx, { patientIds: page.items.map((i) => i.patientId), procedure: "audit.emergencyAccesses", screen: "review_list" });
      // The reader's own accesses (an account that is also a clinician): someone else reviews them.
      return { ...page, items: page.items.map((item) => ({ ...item, own: item.userId === ctx.user.id })) };
    }),

  /** The review queue's size and its oldest grant, for the start page: no patient, so no access recorded. */
  emergencyReviewQueue: complianceProcedure.query(({ ctx }) => emergencyReviewQueue(ctx.db)),

  /** Marks one emergency access reviewed with a note; recorded (who, when) and never editable. */
  reviewEmergencyAccess: complianceProcedure
    .input(z.object({ accessId: z.uuid("access id must be a uuid"), note: reviewNoteInput }))
    .mutation(({ ctx, input }) => reviewEmergencyAccess(ctx, input.accessId, input.note)),

  /** What the event log's filters offer: event types (and their groups) and aggregate types. Users are found by name with `users`. */
  filterOptions: complianceProcedure.query(({ ctx }) => {
    const eventTypes = ctx.store.registry.types();
    return { eventTypes, eventGroups: groupEventTypes(eventTypes), aggregateTypes };
  }),

  /**
   * The global event log, newest first, keyset-paged on the global position (`before`). Filters
   * combine (AND); each can use an index. Records a read of every patient the page touches.
   */
  events: complianceProcedure
    .input(
      z
        .object({
          eventTypes: z.array(eventType).max(20).optional(),
          streamId: text(200, { min: 1 }).optional(),
          aggregateType: text(50, { min: 1 }).optional(),
          userId: id.optional(),
          correlationId: id.optional(),
          occurredFrom: filterInstant.optional(),
          occurredTo: filterInstant.optional(),
          recordedFrom: filterInstant.optional(),
          recordedTo: filterInstant.optional(),
          before: positionInput.optional(),
          limit: pageLimit(200, 50),
        })
        .refine((f) => beforeFrom({ from: f.occurredFrom, to: f.occurredTo }), { message: "from must be before to", path: ["occurredTo"] })
        .refine((f) => beforeFrom({ from: f.recordedFrom, to: f.recordedTo }), { message: "from must be before to", path: ["recordedTo"] }),
    )
    .query(async ({ ctx, input }) => {
      const page = await searchEvents(tolerantStore(ctx.store, { procedure: "audit.events", correlationId: ctx.correlationId }), input);
      const { item, patientIds } = await auditItems(ctx, page.events);
      await recordAccess(ctx, { patientIds, procedure: "audit.events" });
      return {
        items: page.events.map(item),
        nextBefore: page.hasMore ? (page.events.at(-1)?.globalPosition ?? null) : null,
        /** Newest first by this: the position, or the time the range filters on. */
        sortedBy: page.sortedBy,
      };
    }),

  /** One event with the chain that caused it, what it caused, and everything in the same request. */
  event: complianceProcedure.input(z.object({ eventId: z.uuid("event id must be a uuid") })).query(async ({ ctx, input }) => {
    const detail = await eventDetail(tolerantStore(ctx.store, { procedure: "audit.event", correlationId: ctx.correlationId }), input.eventId);
    if (!detail) throw new NotFoundError("Event", input.eventId);
    const all = [detail.event, ...detail.causedBy, ...detail.caused, ...detail.correlated, ...detail.tree.nodes];
    const { item, patientIds } = await auditItems(ctx, all);
    await recordAccess(ctx, { patientIds, procedure: "audit.event" });
    const roots = detail.tree.nodes.filter((n) => n.depth === 1);
    const commandId = commandIdOfCausation(detail.tree.rootCause);
    const first = roots[0];
    return {
      event: item(detail.event),
      causedBy: detail.causedBy.map(item),
      causedByCommand: detail.causedByCommand,
      caused: detail.caused.map((e) => ({ ...item(e), depth: e.depth })),
      /** The chain as a tree: the command at the root (who, when, the request's correlation id), then what it caused. */
      tree: {
        command:
          commandId && first
            ? { commandId, userId: first.metadata.userId, userName: item(first).userName, correlationId: first.metadata.correlationId, at: first.metadata.recordedAt }
            : null,
        nodes: detail.tree.nodes.map((n) => ({ ...item(n), depth: n.depth, parentId: n.parentId })),
        truncated: detail.tree.truncated,
      },
      correlated: detail.correlated.map(item),
      correlatedTruncated: detail.correlatedTruncated,
    };
  }),

  /** Patient search for compliance (the clinical list's: any part of the name, any order, typos, MRN), keyset-paged. */
  patients: complianceProcedure.input(patientSearchInput).query(({ ctx, input }) => searchPatients(ctx, input, "audit.patients")),

  /** The whole record's events (patient, encounters, orders), newest first, optionally by type. */
  patientTimeline: complianceProcedure
    .input(
      z.object({
        patientId,
        eventTypes: z.array(eventType).max(20).optional(),
        /** Only the events that set this demographic field (the registration, the updates that changed it). */
        field: demographicFieldInput.optional(),
        before: positionInput.optional(),
        limit: pageLimit(200, 50),
      }),
    )
    .query(async ({ ctx, input }) => {
      const patient = await ctx.db.prisma.rmPatient.findUnique({
        where: { patientId: input.patientId },
        select: { patientId: true, mrn: true, givenName: true, familyName: true, dateOfBirth: true, version: true, safety: true },
      });
      if (!patient) throw new NotFoundError("Patient", input.patientId);
      const { safety, ...who } = patient;
      const [streamIds, streams] = await Promise.all([patientStreamIds(ctx.db.prisma, input.patientId), patientStreams(ctx.db.prisma, input.patientId)]);
      const page = await patientTimeline(tolerantStore(ctx.store, { procedure: "audit.patientTimeline", correlationId: ctx.correlationId }), streamIds, input);
      const items = await historyItems(ctx.db.prisma, page.events);
      await recordAccess(ctx, { patientId: input.patientId, procedure: "audit.patientTimeline" });
      return {
        patient: { ...who, dateOfBirth: who.dateOfBirth ? who.dateOfBirth.toISOString().slice(0, 10) : PHI_ERASED },
        items,
        /** What an allergy's or alert's later events refer to, by id. */
        safetyNames: safetyNames(safety as unknown as PatientSafety),
        nextBefore: page.hasMore ? page.next : null,
        /** What the screens call the record's encounters and orders, by id. */
        encounters: Object.fromEntries(streams.encounters.map((e) => [e.encounterId, { encounterType: e.encounterType, startedAt: e.startedAt }])),
        orders: Object.fromEntries(streams.orders.map((o) => [o.orderId, { kind: o.kind, description: o.description }])),
      };
    }),

  /**
   * Time travel: the record as the system had recorded it at `asOf` (recorded time, millisecond
   * precision; an event recorded exactly at `asOf` is included). Demographics, and each encounter
   * and order that existed by then, with the stream versions used and today's, to compare.
   */
  patientAsOf: complianceProcedure
    .input(z.object({ patientId, asOf: filterInstant }))
    .query(({ ctx, input }) => recordWithNames(ctx, input.patientId, { recordedAt: input.asOf }, "audit.patientAsOf")),

  /**
   * Bitemporal time travel: the record (demographics, encounters, orders) at a moment "as
   * recorded at" (what the system showed then), "as it happened by" (clinical time, facts entered
   * later included), or both ("what did we know on the 1st about the 15th").
   */
  recordAt: complianceProcedure
    .input(z.object({ patientId, moment: momentInput }))
    .query(({ ctx, input }) => recordWithNames(ctx, input.patientId, input.moment, "audit.recordAt")),

  /** What differs between the record at two chosen moments, field by field, with the events that changed each field. */
  recordDiff: complianceProcedure.input(z.object({ patientId, a: momentInput, b: momentInput })).query(async ({ ctx, input }) => {
    const changes = await recordDiff(ctx.store, input.patientId, input.a, input.b);
    if (!changes) throw new NotFoundError("Patient", input.patientId);
    // Names for who made each change and for the fields that hold a user (an order's or encounter's provider).
    const userIds = changes.flatMap((c) =>
      c.fields.flatMap((f) => [...f.events.map((e) => e.userId), ...(userFields.has(f.field) ? [f.before, f.after].filter((v): v is string => typeof v === "string") : [])]),
    );
    const users = await providerNames(ctx.db.prisma, userIds);
    await recordAccess(ctx, { patientId: input.patientId, procedure: "audit.recordDiff" });
    return { changes, users };
  }),

  /** The scrubber's ticks: every event of the record (or one of its streams) on the chosen axis, oldest first. */
  recordTicks: complianceProcedure
    .input(z.object({ patientId, streamId: text(200, { min: 1 }).optional(), axis: z.enum(["recorded", "happened"]).default("recorded") }))
    .query(async ({ ctx, input }) => {
      await mustExist(ctx, input);
      const streamIds = await patientStreamIds(ctx.db.prisma, input.patientId);
      if (input.streamId && !streamIds.includes(input.streamId)) throw new NotFoundError("Stream", input.streamId);
      const ticks = await recordTicks(ctx.store, input.streamId ? [input.streamId] : streamIds, input.axis, 2_000);
      // Every event's type and time (allergies recorded, orders placed): the record's timeline, read.
      await recordAccess(ctx, { patientId: input.patientId, procedure: "audit.recordTicks", screen: "audit_timeline" });
      return ticks;
    }),

  /**
   * The newest seal of the log and the key that verifies it (what an extract carries), and whether
   * sealing keeps up: the events waiting past the seal, and the sealers' passes of the last day.
   */
  latestSeal: complianceProcedure.query(async ({ ctx }) => {
    const [key] = verifyingKeys(env());
    const [state, sealers] = await Promise.all([readSealingState(ctx.store.sql), recentSealerPasses(ctx.store.sql)]);
    return {
      seal: state.lastSeal?.checkpoint ?? null,
      /** When the newest seal was signed, and the recorded-at of the last event it covers. */
      sealedAt: state.lastSeal?.sealedAt ?? null,
      sealedThrough: state.lastSeal?.sealedThrough ?? null,
      keyId: key ? keyIdOf(key) : null,
      publicKey: key ? publicKeyPem(key) : null,
      earlierKeys: earlierPublicKeys(env()),
      backlog: state.backlog,
      lateAfterSeconds: SEALING_LATE_AFTER_SECONDS,
      sealers,
    };
  }),

  /** "Verify integrity": the same check as `npm run audit:verify`, started in the background; poll `verification`. */
  startVerification: complianceProcedure.mutation(({ ctx }) => startVerification(ctx.store, verifyingKeys(env()), ctx.user.id, ctx.db)),

  /** A verification's progress and, when finished, its report naming the first event or seal that does not match. */
  verification: complianceProcedure.input(z.object({ id: z.uuid("verification id must be a uuid") })).query(({ input }) => {
    const run = verificationById(input.id);
    if (!run) throw new NotFoundError("Verification", input.id);
    return run;
  }),

  /** The extracts handed out, newest first: who, when, which view with which filter, the format, the seal it carried and the SHA-256 it was signed with. */
  exports: complianceProcedure
    .input(
      z.object({
        before: z.object({ at: filterInstant, id: z.uuid("before.id must be a uuid") }).optional(),
        limit: pageLimit(100, 25),
      }),
    )
    .query(async ({ ctx, input }) => {
      // Served by audit_exports_exported_idx (exported_at, id), newest first.
      const rows = await ctx.db.prisma.auditExport.findMany({
        where: input.before
          ? { OR: [{ exportedAt: { lt: input.before.at } }, { exportedAt: input.before.at, id: { lt: input.before.id } }] }
          : {},
        orderBy: [{ exportedAt: "desc" }, { id: "desc" }],
        take: input.limit + 1,
        select: { id: true, userId: true, exportedAt: true, view: true, format: true, filter: true, sealSeq: true },
      });
      const page = rows.slice(0, input.limit);
      const [users, signed] = await Promise.all([
        providerNames(ctx.db.prisma, page.map((r) => r.userId)),
        // The digest each extract ended with; none: it never finished (a closed download).
        ctx.store.sql<{ export_id: string; sha256: string }>(
          "SELECT export_id::text AS export_id, encode(sha256, 'hex') AS sha256 FROM audit_export_signatures WHERE export_id = ANY ($1::uuid[])",
          [page.map((r) => r.id)],
        ),
      ]);
      const digests = new Map(signed.map((d) => [d.export_id, d.sha256]));
      return {
        items: page.map((r) => ({
          ...r,
          sealSeq: r.sealSeq === null ? null : Number(r.sealSeq),
          userName: users[r.userId] ?? null,
          filter: r.filter as Record<string, unknown>,
          sha256: digests.get(r.id) ?? null,
        })),
        nextBefore: rows.length > input.limit ? { at: page.at(-1)!.exportedAt, id: page.at(-1)!.id } : null,
      };
    }),
});
