// Queries for compliance: the global log browsed newest first with filters, one event with what
// caused it and what it caused, a patient's whole record as a timeline, and the record as the
// system knew it at a past instant (time travel). They read the log itself, not read models,
// except to find which streams belong to a patient and which patient an event touched.
import type { Db, Decider, DomainEvent, FieldChange, Moment, Store, StoredEvent } from "../eventStore";
import {
  commandIdOfCausation,
  diffFields,
  eventColumns,
  inMoment,
  loadAtMoment,
  readByCorrelationId,
  readCausalTree,
  selectEvents,
  streamVersion,
  versionRecordedBy,
} from "../eventStore";
import { encounterDecider, type EncounterState } from "../domain/encounter/decider";
import { orderDecider, type OrderState } from "../domain/order/decider";
import { patientDecider, type PatientState } from "../domain/patient/decider";
import { encounterStream, orderStream, patientStream } from "../domain/streams";
import { isUuid } from "../../shared/ids";
import { ValidationError } from "../errors";
import { demographicFieldEventTypes, eventSetsField, type DemographicField } from "../../shared/clinical/patients";

// ---- reading events with audit filters ----------------------------------------------------

/** What a page of the log is ordered by (newest first): the time filtered on, else the position. */
export type EventSortKey = "position" | "recorded" | "occurred";

export type EventSearch = {
  eventTypes?: readonly string[];
  streamId?: string;
  aggregateType?: string;
  userId?: string;
  correlationId?: string;
  /** [occurredFrom, occurredTo): when it happened, as the client said. */
  occurredFrom?: Date;
  occurredTo?: Date;
  /** [recordedFrom, recordedTo): when the system stored it. */
  recordedFrom?: Date;
  recordedTo?: Date;
  /** Keyset cursor: only events below this global position. */
  before?: number;
  limit: number;
};

/**
 * The global log, newest first by global position, one page and whether there is more.
 *
 * Every filter has an index that starts with it: (event_type, global_position),
 * (user_id, global_position), (stream_id, version), correlation_id, occurred_at, recorded_at;
 * the aggregate type, the range of stream ids it names (stream_id text_pattern_ops, ...): a
 * rare type is read from there and sorted, a common one found walking the primary key
 * backwards; with no filter, the primary key read backwards. Several
 * event types are read as one ordered index scan per type, merged (UNION ALL), so a page costs
 * at most a page per type, not every row of those types.
 *
 * With a time range the page is ordered by that time instead (then by position), still keyed by
 * the `before` position (its row's time is looked up): PostgreSQL cannot know that positions
 * and times grow together, and ordered by position it would read the whole log backwards to
 * reach an old month; ordered by the time it reads that month's index range only.
 *
 * Paging on global_position (not commit order) is right for browsing: a transaction that took a
 * lower position and commits after a page was read shows up on a refresh, never in a later page
 * out of order. Readers that must not miss events use readAll's commit-order checkpoint.
 */
/** Whether a page cursor names an event (searchEvents, after an empty time-sorted page). */
export const cursorProbeSql = "SELECT 1 AS found FROM events WHERE global_position = $1::bigint";

export async function searchEvents(
  store: Store,
  search: EventSearch,
): Promise<{ events: StoredEvent[]; hasMore: boolean; sortedBy: EventSortKey }> {
  const sortedBy: EventSortKey =
    search.recordedFrom || search.recordedTo ? "recorded" : search.occurredFrom || search.occurredTo ? "occurred" : "position";
  const sortColumn = { recorded: "recorded_at", occurred: "occurred_at", position: null }[sortedBy];
  const params: unknown[] = [];
  const where: string[] = [];
  const add = (sql: (n: string) => string, value: unknown) => {
    params.push(value);
    where.push(sql(`$${params.length}`));
  };
  if (search.before !== undefined) {
    add(
      (p) =>
        sortColumn
          ? `${sortColumn} <= (SELECT c.${sortColumn} FROM events c WHERE c.global_position = ${p}::bigint)
             AND (${sortColumn}, global_position) < (SELECT c.${sortColumn}, c.global_position FROM events c WHERE c.global_position = ${p}::bigint)`
          : `global_position < ${p}::bigint`,
      search.before,
    );
  }
  if (search.streamId) add((p) => `stream_id = ${p}`, search.streamId);
  if (search.aggregateType) {
    // A stream id starts with its aggregate type and a hyphen (a constraint of events), so the
    // type's events are one range of stream ids, compared byte by byte ('.' follows '-'): the
    // range on the (stream_id text_pattern_ops, ...) index, then the type itself on its rows.
    add((p) => `stream_id ~>=~ ${p}`, `${search.aggregateType}-`);
    add((p) => `stream_id ~<~ ${p}`, `${search.aggregateType}.`);
    add((p) => `aggregate_type = ${p}`, search.aggregateType);
  }
  if (search.userId) add((p) => `user_id = ${p}`, search.userId);
  if (search.correlationId) add((p) => `correlation_id = ${p}`, search.correlationId);
  if (search.occurredFrom) add((p) => `occurred_at >= ${p}::timestamptz`, search.occurredFrom);
  if (search.occurredTo) add((p) => `occurred_at < ${p}::timestamptz`, search.occurredTo);
  if (search.recordedFrom) add((p) => `recorded_at >= ${p}::timestamptz`, search.recordedFrom);
  if (search.recordedTo) add((p) => `recorded_at < ${p}::timestamptz`, search.recordedTo);
  params.push(search.limit + 1);
  const limit = `$${params.length}`;
  const order = sortColumn ? `${sortColumn} DESC, global_position DESC` : "global_position DESC";

  const types = [...new Set(search.eventTypes ?? [])];
  const filters = (extra: string[]) => [...extra, ...where];
  const whereSql = (conds: string[]) => (conds.length ? `WHERE ${conds.join(" AND ")}` : "");
  let sql: string;
  if (types.length <= 1) {
    const conds = types.length === 1 ? filters([`event_type = $${params.push(types[0])}`]) : filters([]);
    sql = `SELECT ${eventColumns} FROM events ${whereSql(conds)} ORDER BY ${order} LIMIT ${limit}`;
  } else {
    // One branch per type, each planned with its own value (a rare type and a common one need
    // different plans), each an ordered scan of at most a page; then the newest page of them all.
    const branches = types.map(
      (type) => `(SELECT ${eventColumns} FROM events ${whereSql(filters([`event_type = $${params.push(type)}`]))} ORDER BY ${order} LIMIT ${limit})`,
    );
    sql = `SELECT * FROM (${branches.join(" UNION ALL ")}) AS page ORDER BY ${order} LIMIT ${limit}`;
  }
  const events = await selectEvents(store, sql, params);
  if (events.length === 0 && search.before !== undefined && sortColumn) {
    // A time-sorted page goes on from its cursor's own time: a position no event holds compares
    // with NULL, and its empty page would read as "no events in this range". Asked only then.
    const [cursor] = await store.sql<{ found: number }>(cursorProbeSql, [search.before]);
    if (!cursor) throw new ValidationError("before is not the position of an event in this log: start again from the first page", "before");
  }
  return { events: events.slice(0, search.limit), hasMore: events.length > search.limit, sortedBy };
}

export async function eventById(store: Store, eventId: string): Promise<StoredEvent | null> {
  const [event] = await selectEvents(store, `SELECT ${eventColumns} FROM events WHERE event_id = $1::uuid`, [eventId]);
  return event ?? null;
}


export type EventDetail = {
  event: StoredEvent;
  /** The events that led here, nearest first: the event whose id is this one's causation id, and on up. */
  causedBy: StoredEvent[];
  /** This event's chain starts at a command (its id), or at a cause that names no stored event. */
  causedByCommand: string | null;
  /** What this event caused, and what that caused, with the depth below this event (1 = direct). */
  caused: (StoredEvent & { depth: number })[];
  /**
   * The whole chain as a tree across records: rooted at the command (or the first event), every
   * event it wrote at depth 1, each later one under the event that caused it.
   */
  tree: { rootCause: string | null; nodes: (StoredEvent & { depth: number; parentId: string | null })[]; truncated: boolean };
  /** Every event written under the same correlation id (the same request or job), oldest first. */
  correlated: StoredEvent[];
  correlatedTruncated: boolean;
};

const treeLimit = 500;
const correlatedLimit = 200;

export async function eventDetail(store: Store, eventId: string): Promise<EventDetail | null> {
  const [tree, event] = await Promise.all([readCausalTree(store, eventId, { limit: treeLimit }), eventById(store, eventId)]);
  if (!event || !tree) return null;
  const byId = new Map(tree.events.map((e) => [e.metadata.eventId, e]));
  const self = byId.get(eventId);
  // Up: parent by parent from this event to the root.
  const causedBy: StoredEvent[] = [];
  for (let parent = self?.parentId ? byId.get(self.parentId) : undefined; parent; parent = parent.parentId ? byId.get(parent.parentId) : undefined) {
    causedBy.push(parent);
  }
  // Down: every node whose ancestors include this event, with its depth below it.
  const below = (node: (typeof tree.events)[number]): boolean => {
    for (let p = node.parentId; p; p = byId.get(p)?.parentId ?? null) if (p === eventId) return true;
    return false;
  };
  const caused = tree.events.filter(below).map((e) => ({ ...e, depth: e.depth - (self?.depth ?? 0) }));
  const rootCommand = commandIdOfCausation(tree.rootCause);
  const correlated = await readByCorrelationId(store, event.metadata.correlationId, { limit: correlatedLimit + 1 });
  return {
    event,
    causedBy,
    causedByCommand: rootCommand ?? tree.rootCause,
    caused,
    tree: { rootCause: tree.rootCause, nodes: tree.events, truncated: tree.truncated },
    correlated: correlated.slice(0, correlatedLimit),
    correlatedTruncated: correlated.length > correlatedLimit,
  };
}

// ---- which patient an event touched ------------------------------------------------------

/**
 * The patient each event is about. Patient, encounter and order events carry `patientId`, except
 * EncounterCompleted and OrderStatusChanged: those are looked up by their encounter or order id
 * in the read models (one query each for the whole page). Events of no patient map to null.
 */
export async function patientIdsOf(db: Db, events: readonly StoredEvent[]): Promise<Map<string, string | null>> {
  const result = new Map<string, string | null>();
  const encounterIds = new Set<string>();
  const orderIds = new Set<string>();
  const idOf = (event: StoredEvent, key: string) => {
    const value = (event.data as Record<string, unknown>)[key];
    return typeof value === "string" && isUuid(value) ? value : null;
  };
  for (const event of events) {
    const patientId = idOf(event, "patientId");
    if (patientId) result.set(event.metadata.eventId, patientId);
    else if (event.aggregateType === "encounter" && idOf(event, "encounterId")) encounterIds.add(idOf(event, "encounterId")!);
    else if (event.aggregateType === "order" && idOf(event, "orderId")) orderIds.add(idOf(event, "orderId")!);
  }
  const [encounters, orders] = await Promise.all([
    encounterIds.size
      ? db.rmEncounter.findMany({ where: { encounterId: { in: [...encounterIds] } }, select: { encounterId: true, patientId: true } })
      : [],
    orderIds.size ? db.rmOrder.findMany({ where: { orderId: { in: [...orderIds] } }, select: { orderId: true, patientId: true } }) : [],
  ]);
  const byEncounter = new Map(encounters.map((e) => [e.encounterId, e.patientId]));
  const byOrder = new Map(orders.map((o) => [o.orderId, o.patientId]));
  for (const event of events) {
    if (result.has(event.metadata.eventId)) continue;
    const encounterId = event.aggregateType === "encounter" ? idOf(event, "encounterId") : null;
    const orderId = event.aggregateType === "order" ? idOf(event, "orderId") : null;
    result.set(
      event.metadata.eventId,
      (encounterId && byEncounter.get(encounterId)) ?? (orderId && byOrder.get(orderId)) ?? null,
    );
  }
  return result;
}

// ---- a patient's record --------------------------------------------------------------------

/** The patient's record streams with what the screens call them (from the read models). */
export async function patientStreams(db: Db, patientId: string) {
  const [encounters, orders] = await Promise.all([
    db.rmEncounter.findMany({
      where: { patientId },
      select: { encounterId: true, encounterType: true, startedAt: true },
      orderBy: { startedAt: "asc" },
    }),
    db.rmOrder.findMany({
      where: { patientId },
      select: { orderId: true, kind: true, description: true, createdAt: true },
      orderBy: { createdAt: "asc" },
    }),
  ]);
  return { encounters, orders };
}

/**
 * A patient's events, newest first, a page of `limit` read at a time. With `field`, only those
 * that set that demographic field (the same test the screen and its extract apply): a page may
 * then hold fewer than `limit`, or none, and `next` (the last position read) is where the next
 * page starts.
 */
export async function patientTimeline(
  store: Store,
  streamIds: readonly string[],
  options: { eventTypes?: readonly string[]; field?: DemographicField; before?: number; limit: number },
): Promise<{ events: StoredEvent[]; hasMore: boolean; next: number | null }> {
  const params: unknown[] = [[...streamIds], options.before ?? Number.MAX_SAFE_INTEGER, options.limit + 1];
  let typeFilter = "";
  const eventTypes = options.field ? demographicFieldEventTypes : options.eventTypes;
  if (eventTypes && eventTypes.length > 0) {
    params.push([...eventTypes]);
    typeFilter = `AND event_type = ANY ($4::text[])`;
  }
  const events = await selectEvents(
    store,
    `SELECT ${eventColumns} FROM events
      WHERE stream_id = ANY ($1::text[]) AND global_position < $2::bigint ${typeFilter}
      ORDER BY global_position DESC LIMIT $3`,
    params,
  );
  const page = events.slice(0, options.limit);
  const field = options.field;
  return {
    events: field ? page.filter((event) => eventSetsField(event, field)) : page,
    hasMore: events.length > options.limit,
    next: page.at(-1)?.globalPosition ?? null,
  };
}

type AsOf<S> = { state: S; version: number; currentVersion: number; eventsApplied: number };
type Registered = Extract<PatientState, { status: "registered" }>;
type StartedEncounter = Exclude<EncounterState, { status: "not_started" }>;
type CreatedOrder = Exclude<OrderState, { status: "not_created" }>;

export type PatientAsOf = {
  /** The moment shown: recorded-at and/or happened-by (an axis left out is "now"). */
  moment: Moment;
  /** The recorded-at instant (kept for the "as recorded at" screens); null when only happenedBy is set. */
  asOf: Date | null;
  /** null: the patient had not been registered by then (on the chosen axes). */
  patient: AsOf<Registered> | null;
  /** Current demographics, so the screen can mark what differs from now. */
  current: Registered;
  encounters: (AsOf<StartedEncounter> & { currentStatus: string })[];
  orders: (AsOf<CreatedOrder> & { currentStatus: string })[];
  /** Encounters and orders not yet in the record at that moment (left out above). */
  laterEncounters: number;
  laterOrders: number;
};

/** How many streams are folded at once: a long record must not take the whole pool. */
const foldConcurrency = 4;

async function mapLimited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}

type RecordStream =
  | { kind: "patient"; id: string; streamId: string; decider: typeof patientDecider; currentStatus: null }
  | { kind: "encounter"; id: string; streamId: string; decider: typeof encounterDecider; currentStatus: string }
  | { kind: "order"; id: string; streamId: string; decider: typeof orderDecider; currentStatus: string };

/** The patient's record streams (patient, encounters newest first, orders newest first), from the read models. */
async function recordStreams(db: Db, patientId: string): Promise<RecordStream[]> {
  const [encounterRows, orderRows] = await Promise.all([
    db.rmEncounter.findMany({ where: { patientId }, select: { encounterId: true, status: true }, orderBy: { startedAt: "desc" } }),
    db.rmOrder.findMany({ where: { patientId }, select: { orderId: true, status: true }, orderBy: { createdAt: "desc" } }),
  ]);
  return [
    { kind: "patient", id: patientId, streamId: patientStream(patientId), decider: patientDecider, currentStatus: null },
    ...encounterRows.map((e) => ({ kind: "encounter" as const, id: e.encounterId, streamId: encounterStream(e.encounterId), decider: encounterDecider, currentStatus: e.status })),
    ...orderRows.map((o) => ({ kind: "order" as const, id: o.orderId, streamId: orderStream(o.orderId), decider: orderDecider, currentStatus: o.status })),
  ];
}

/** Whether a record's state says it existed (registered, started, created). */
const existedIn = (state: { status: string }) => !["unregistered", "not_started", "not_created"].includes(state.status);

function loadStream(store: Store, stream: RecordStream, moment: Moment, options?: Parameters<typeof loadAtMoment>[4]) {
  // One decider per kind: the union of deciders is not callable as one generic.
  return loadAtMoment(store, stream.streamId, stream.decider as unknown as Decider<unknown, DomainEvent, { status: string }>, moment, options as never);
}

/**
 * The patient's record at a moment, on either time axis or both (temporal.ts): "as recorded at"
 * (what the system showed then), "as it happened by" (clinical time, late entries included), or
 * both. Every stream of the record is folded at that moment (a few at a time); records that did
 * not exist yet are counted, not listed. Returns null when the patient does not exist at all.
 */
export async function recordAt(store: Store, patientId: string, moment: Moment): Promise<PatientAsOf | null> {
  const streams = await recordStreams(store.db, patientId);
  const [patientStreamRef, ...rest] = streams;
  const [patientThen, patientNow] = await Promise.all([
    loadStream(store, patientStreamRef!, moment),
    loadAtMoment(store, patientStreamRef!.streamId, patientDecider, {}),
  ]);
  if (patientNow.state.status !== "registered") return null;
  const loaded = await mapLimited(rest, foldConcurrency, async (stream) => ({ stream, load: await loadStream(store, stream, moment) }));
  const asOf = <S>(load: { state: unknown; lastVersion: number; currentVersion: number; eventsApplied: number }) => ({
    state: load.state as S,
    version: load.lastVersion,
    currentVersion: load.currentVersion,
    eventsApplied: load.eventsApplied,
  });
  const existing = loaded.filter(({ load }) => existedIn(load.state));
  const encounters = existing.filter((l) => l.stream.kind === "encounter").map(({ stream, load }) => ({ ...asOf<StartedEncounter>(load), currentStatus: stream.currentStatus! }));
  const orders = existing.filter((l) => l.stream.kind === "order").map(({ stream, load }) => ({ ...asOf<CreatedOrder>(load), currentStatus: stream.currentStatus! }));
  return {
    moment,
    asOf: moment.recordedAt ?? null,
    patient: patientThen.state.status === "registered" ? asOf<Registered>(patientThen) : null,
    current: patientNow.state,
    encounters,
    orders,
    laterEncounters: rest.filter((s) => s.kind === "encounter").length - encounters.length,
    laterOrders: rest.filter((s) => s.kind === "order").length - orders.length,
  };
}

// ---- comparing two moments -------------------------------------------------------------------

/** An event that makes the two moments differ: in one of them and not the other. */
export type ChangingEvent = {
  eventId: string;
  type: string;
  streamId: string;
  version: number;
  occurredAt: Date;
  recordedAt: Date;
  userId: string;
  /** "b": in the second moment only (it brought the change); "a": in the first only (the second lacks it). */
  inMoment: "a" | "b";
};

export type RecordDiffEntry = {
  kind: RecordStream["kind"];
  id: string;
  streamId: string;
  /** The record itself appeared, disappeared, or changed between the two moments. */
  change: "added" | "removed" | "changed";
  fields: (FieldChange & { events: ChangingEvent[] })[];
};

/** At most this many events are named per changed field (the newest ones). */
const eventsPerField = 10;

/**
 * What differs between the record at moment a and at moment b: per record (demographics, each
 * encounter, each order) added, removed or changed, and per field its value at a and at b with
 * the events that made the difference: those in one moment and not the other that changed the
 * field when folded. Fields compare as JSON (key order ignored).
 */
export async function recordDiff(store: Store, patientId: string, a: Moment, b: Moment): Promise<RecordDiffEntry[] | null> {
  const streams = await recordStreams(store.db, patientId);
  const diffs = await mapLimited(streams, foldConcurrency, async (stream): Promise<RecordDiffEntry | null> => {
    const changers = new Map<string, ChangingEvent[]>();
    const observe = (side: "a" | "b", other: Moment) => (event: StoredEvent, before: unknown, after: unknown) => {
      if (inMoment(event, other)) return;
      for (const { field } of diffFields(before, after)) {
        const list = changers.get(field) ?? [];
        list.push({
          eventId: event.metadata.eventId,
          type: event.type,
          streamId: event.streamId,
          version: event.version,
          occurredAt: event.metadata.occurredAt,
          recordedAt: event.metadata.recordedAt,
          userId: event.metadata.userId,
          inMoment: side,
        });
        if (list.length > eventsPerField) list.shift();
        changers.set(field, list);
      }
    };
    // Events before the earlier of two recorded-at versions are in both moments: a snapshot may cover them.
    let snapshotAtMost = 0;
    if (!a.happenedBy && !b.happenedBy) {
      const [va, vb] = await Promise.all(
        [a, b].map((m) => (m.recordedAt ? versionRecordedBy(store, stream.streamId, m.recordedAt) : streamVersion(store, stream.streamId))),
      );
      snapshotAtMost = Math.min(va!, vb!);
    }
    const [atA, atB] = await Promise.all([
      loadStream(store, stream, a, { onEvent: observe("a", b), snapshotAtMost }),
      loadStream(store, stream, b, { onEvent: observe("b", a), snapshotAtMost }),
    ]);
    const existedA = existedIn(atA.state);
    const existedB = existedIn(atB.state);
    if (!existedA && !existedB) return null;
    const fields = diffFields(existedA ? atA.state : {}, existedB ? atB.state : {}).map((f) => ({
      ...f,
      events: (changers.get(f.field) ?? []).sort((x, y) => x.version - y.version),
    }));
    if (fields.length === 0) return null;
    const change = !existedA ? "added" : !existedB ? "removed" : "changed";
    return { kind: stream.kind, id: stream.id, streamId: stream.streamId, change, fields };
  });
  if (streams.length === 1 && (await streamVersion(store, streams[0]!.streamId)) === 0) return null;
  return diffs.filter((d): d is RecordDiffEntry => d !== null);
}

// ---- the scrubber's ticks --------------------------------------------------------------------

export type RecordTick = {
  eventId: string;
  streamId: string;
  version: number;
  type: string;
  occurredAt: Date;
  recordedAt: Date;
  userId: string;
};

/**
 * Every event of the given streams as a tick of the time-travel scrubber, oldest first on the
 * chosen axis (recorded: recorded_at; happened: occurred_at), the newest `limit` when there are
 * more. Metadata only, never the payload: each stream is read over its own index.
 */
export async function recordTicks(
  store: Store,
  streamIds: readonly string[],
  axis: "recorded" | "happened",
  limit: number,
): Promise<{ ticks: RecordTick[]; truncated: boolean }> {
  const column = axis === "recorded" ? "recorded_at" : "occurred_at";
  const rows = await store.sql<{
    event_id: string;
    stream_id: string;
    version: number;
    event_type: string;
    occurred_at: Date;
    recorded_at: Date;
    user_id: string;
  }>(
    `SELECT * FROM (
       SELECT event_id::text AS event_id, stream_id, version, event_type, occurred_at, recorded_at, user_id, global_position
         FROM events WHERE stream_id = ANY ($1::text[])
        ORDER BY ${column} DESC, global_position DESC LIMIT $2
     ) t ORDER BY ${column}, global_position`,
    [[...streamIds], limit + 1],
  );
  const truncated = rows.length > limit;
  const kept = truncated ? rows.slice(1) : rows;
  return {
    ticks: kept.map((r) => ({
      eventId: r.event_id,
      streamId: r.stream_id,
      version: r.version,
      type: r.event_type,
      occurredAt: r.occurred_at,
      recordedAt: r.recorded_at,
      userId: r.user_id,
    })),
    truncated,
  };
}
