// Queries for compliance: the global log browsed newest first with filters, one event with what
// caused it and what it caused, a patient's whole record as a timeline, and the record as the
// system knew it at a past instant (time travel). They read the log itself, not read models,
// except to find which streams belong to a patient and which patient an event touched.
import type { Db, Decider, DomainEvent, Store, StoredEvent } from "../eventStore";
import { commandIdOfCausation, eventColumns, loadAtVersion, readByCausation, readByCorrelationId, selectEvents } from "../eventStore";
import { encounterDecider, type EncounterState } from "../domain/encounter/decider";
import { orderDecider, type OrderState } from "../domain/order/decider";
import { patientDecider, type PatientState } from "../domain/patient/decider";
import { encounterStream, orderStream, patientStream } from "../domain/streams";

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
 * (aggregate_type, global_position), (user_id, global_position), (stream_id, version),
 * correlation_id, occurred_at, recorded_at; with none, the primary key read backwards. Several
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
  if (search.aggregateType) add((p) => `aggregate_type = ${p}`, search.aggregateType);
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
  return { events: events.slice(0, search.limit), hasMore: events.length > search.limit, sortedBy };
}

export async function eventById(store: Store, eventId: string): Promise<StoredEvent | null> {
  const [event] = await selectEvents(store, `SELECT ${eventColumns} FROM events WHERE event_id = $1::uuid`, [eventId]);
  return event ?? null;
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export type EventDetail = {
  event: StoredEvent;
  /** The events that led here, nearest first: the event whose id is this one's causation id, and on up. */
  causedBy: StoredEvent[];
  /** This event's causation id names no stored event: it is the id of the command that wrote it. */
  causedByCommand: string | null;
  /** What this event caused, and what that caused, with the depth below this event (1 = direct). */
  caused: (StoredEvent & { depth: number })[];
  /** Every event written under the same correlation id (the same request or job), oldest first. */
  correlated: StoredEvent[];
  correlatedTruncated: boolean;
};

const chainLimit = 50;
const correlatedLimit = 200;

export async function eventDetail(store: Store, eventId: string): Promise<EventDetail | null> {
  const event = await eventById(store, eventId);
  if (!event) return null;

  const causedBy: StoredEvent[] = [];
  const seen = new Set([event.metadata.eventId]);
  let causedByCommand: string | null = null;
  let next = event.metadata.causationId;
  while (next && causedBy.length < chainLimit) {
    if (seen.has(next)) break; // a cycle cannot be written through the API, but never loop on one
    const commandId = commandIdOfCausation(next);
    if (commandId) {
      causedByCommand = commandId;
      break;
    }
    const parent = uuidPattern.test(next) ? await eventById(store, next) : null;
    if (!parent) {
      causedByCommand = next;
      break;
    }
    causedBy.push(parent);
    seen.add(parent.metadata.eventId);
    next = parent.metadata.causationId;
  }

  const [down, correlated] = await Promise.all([
    readByCausation(store, eventId, { limit: chainLimit + 1 }),
    readByCorrelationId(store, event.metadata.correlationId, { limit: correlatedLimit + 1 }),
  ]);
  return {
    event,
    causedBy,
    causedByCommand,
    caused: down.filter((e) => e.depth > 0).slice(0, chainLimit),
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
    return typeof value === "string" && uuidPattern.test(value) ? value : null;
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

export async function patientTimeline(
  store: Store,
  streamIds: readonly string[],
  options: { eventTypes?: readonly string[]; before?: number; limit: number },
): Promise<{ events: StoredEvent[]; hasMore: boolean }> {
  const params: unknown[] = [[...streamIds], options.before ?? Number.MAX_SAFE_INTEGER, options.limit + 1];
  let typeFilter = "";
  if (options.eventTypes && options.eventTypes.length > 0) {
    params.push([...options.eventTypes]);
    typeFilter = `AND event_type = ANY ($4::text[])`;
  }
  const events = await selectEvents(
    store,
    `SELECT ${eventColumns} FROM events
      WHERE stream_id = ANY ($1::text[]) AND global_position < $2::bigint ${typeFilter}
      ORDER BY global_position DESC LIMIT $3`,
    params,
  );
  return { events: events.slice(0, options.limit), hasMore: events.length > options.limit };
}

type AsOf<S> = { state: S; version: number; currentVersion: number };
type Registered = Extract<PatientState, { status: "registered" }>;
type StartedEncounter = Exclude<EncounterState, { status: "not_started" }>;
type CreatedOrder = Exclude<OrderState, { status: "not_created" }>;

export type PatientAsOf = {
  asOf: Date;
  /** null: the patient had not been registered (recorded) by then. */
  patient: AsOf<Registered> | null;
  /** Current demographics, so the screen can mark what differs from now. */
  current: Registered;
  encounters: (AsOf<StartedEncounter> & { currentStatus: string })[];
  orders: (AsOf<CreatedOrder> & { currentStatus: string })[];
  /** Encounters and orders recorded only after asOf (left out above). */
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

async function stateAt<C, E extends DomainEvent, S>(store: Store, streamId: string, decider: Decider<C, E, S>, version: number) {
  return (await loadAtVersion(store, streamId, decider, version)).state;
}

/**
 * The patient's record as the system had recorded it at `asOf` (bitemporal: recorded time, not
 * the time things were said to happen): loadAsOf for every stream of the record, batched. One
 * query finds each stream's last version recorded by then (recorded_at never decreases along a
 * stream, so that is a version prefix) and its current version; streams with nothing recorded
 * by then are left out; the rest fold to that version (from a snapshot no later than it).
 * Returns null when the patient does not exist at all.
 */
export async function patientAsOf(store: Store, patientId: string, asOf: Date): Promise<PatientAsOf | null> {
  const pStream = patientStream(patientId);
  const [encounterRows, orderRows] = await Promise.all([
    store.db.rmEncounter.findMany({ where: { patientId }, select: { encounterId: true, status: true }, orderBy: { startedAt: "desc" } }),
    store.db.rmOrder.findMany({ where: { patientId }, select: { orderId: true, status: true }, orderBy: { createdAt: "desc" } }),
  ]);
  const ids = [pStream, ...encounterRows.map((e) => encounterStream(e.encounterId)), ...orderRows.map((o) => orderStream(o.orderId))];
  const rows = await store.db.$queryRawUnsafe<{ stream_id: string; current: number; as_of: number | null }[]>(
    `SELECT s.stream_id, s.version AS current,
            (SELECT max(e.version) FROM events e WHERE e.stream_id = s.stream_id AND e.recorded_at <= $2::timestamptz) AS as_of
       FROM streams s WHERE s.stream_id = ANY ($1::text[])`,
    ids,
    asOf,
  );
  const versions = new Map(rows.map((r) => [r.stream_id, { current: r.current, then: r.as_of ?? 0 }]));
  const pv = versions.get(pStream);
  if (!pv || pv.current === 0) return null;

  const [patientThen, patientNow] = await Promise.all([
    pv.then > 0 ? stateAt(store, pStream, patientDecider, pv.then) : null,
    stateAt(store, pStream, patientDecider, pv.current),
  ]);
  if (patientNow.status !== "registered") return null;

  const existed = <T>(streamId: string, row: T) => {
    const v = versions.get(streamId);
    return v && v.then > 0 ? [{ row, streamId, version: v.then, currentVersion: v.current }] : [];
  };
  const encounters = await mapLimited(
    encounterRows.flatMap((e) => existed(encounterStream(e.encounterId), e)),
    foldConcurrency,
    async ({ row, streamId, version, currentVersion }) => ({
      state: (await stateAt(store, streamId, encounterDecider, version)) as StartedEncounter,
      version,
      currentVersion,
      currentStatus: row.status,
    }),
  );
  const orders = await mapLimited(
    orderRows.flatMap((o) => existed(orderStream(o.orderId), o)),
    foldConcurrency,
    async ({ row, streamId, version, currentVersion }) => ({
      state: (await stateAt(store, streamId, orderDecider, version)) as CreatedOrder,
      version,
      currentVersion,
      currentStatus: row.status,
    }),
  );
  return {
    asOf,
    patient: patientThen?.status === "registered" ? { state: patientThen, version: pv.then, currentVersion: pv.current } : null,
    current: patientNow,
    encounters,
    orders,
    laterEncounters: encounterRows.length - encounters.length,
    laterOrders: orderRows.length - orders.length,
  };
}
