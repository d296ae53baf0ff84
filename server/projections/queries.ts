// Queries over the clinical read models: the patient list, the chart, the order worklist.
// Keyset paging throughout (no OFFSET), so deep pages cost what the first one does.
import { z } from "zod";
import type { Db } from "../eventStore";
import type { Prisma, RmPatient } from "../db/generated/client";
import { orderTransitions } from "../domain/order/decider";
import type { OrderStatus } from "../domain/order/events";
import type { PatientSafety } from "../../shared/clinical/safety";
import { encounterStream, orderStream, patientStream } from "../domain/streams";

import { cursorInstant, decodeCursor, encodeCursor, INT2_MAX, text } from "../input";
import { PHI_ERASED } from "../eventStore/phi";

export type PatientListItem = {
  patientId: string;
  mrn: string;
  givenName: string;
  familyName: string;
  dateOfBirth: string;
  sex: string;
  active: boolean;
  version: number;
  updatedAt: Date;
};

/** The patient list's sort key (sort_key text, patient_id uuid); strict, see server/input.ts. */
export const patientCursor = z.strictObject({ k: text(250, { trim: false }), id: z.uuid(), /** a typo-tolerant search's page */ f: z.literal(1).optional() });

/**
 * What is typed, as words: "Delgado Probe8680, Rosa" -> ["Delgado", "Probe8680", "Rosa"]. At most 5.
 * Composed (NFC) as names are stored, marks kept with their letters: "Rami\u0301rez" is one word.
 */
export function searchWords(search: string | undefined): string[] {
  return (search ?? "").normalize("NFC").split(/[^\p{L}\p{M}\p{N}]+/u).filter(Boolean).slice(0, 5);
}

/** A word that may be a typo: four letters or more, no digits (MRNs are never fuzzy). */
const mayBeTypo = (word: string) => word.length >= 4 && !/\d/.test(word);

/**
 * Every word must be found in the folded "family given mrn" (rm_patients.search_text, folded by
 * emr_fold: letters and digits of every script, no accents, lower case), in any order, as a fragment ("delg ros"); one or two
 * letters match the start of a word only. `typos` (the second pass, asked only when the first
 * finds nobody): the words found nowhere as fragments, each of which must instead be a near
 * match of one whole word (pg_trgm's strict word similarity, `<<%`, at its default 0.5:
 * "Delgadp" finds Delgado, "Lovelace8e571c" does not find "Lovelace2b4f10"). Fragments alone let
 * the planner use the trigram index well; similarity on every row of a common name would not.
 */
function searchConditions(words: readonly string[], params: unknown[], typos: ReadonlySet<number>): string[] {
  return words.map((word, i) => {
    params.push(word);
    const w = `emr_fold($${params.length})`;
    // A word that folds to nothing (letters of a script the fold does not know) matches nobody:
    // as '' it would be a fragment of every row, and list the whole table. The planner folds the
    // parameter to a constant, so a word that does fold costs nothing here and keeps the index.
    const some = `${w} <> ''`;
    if (typos.has(i)) return `(${some} AND ${w} <<% search_text)`;
    if (word.length < 3) return `(${some} AND (' ' || search_text) LIKE '% ' || ${w} || '%')`;
    return `(${some} AND search_text LIKE '%' || ${w} || '%')`;
  });
}

type SearchInput = { search?: string; cursor?: string | null; limit: number };

const noTypos: ReadonlySet<number> = new Set();

/** How many entries of the list, in order, a search reads before it asks the trigram index instead. */
const SEARCH_HEAD = 2000;

/**
 * The patient list's statement and parameters (the bench runs the same SQL through pg). `typos`:
 * the indexes of the words to match by similarity (see searchConditions).
 */
export function patientSearchSql(input: SearchInput, typos: ReadonlySet<number> = noTypos): [string, unknown[]] {
  const params: unknown[] = [];
  const conditions = searchConditions(searchWords(input.search), params, typos);
  // Erased patients are not listed: nothing of who they were is left to find.
  const listed = ["erased_at IS NULL"];
  const after = decodeCursor(input.cursor, patientCursor);
  if (after) {
    params.push(after.k, after.id);
    listed.push(`(sort_key, patient_id) > ($${params.length - 1}, $${params.length}::uuid)`);
  }
  params.push(input.limit + 1);
  const limit = `$${params.length}`;
  const order = "ORDER BY sort_key, patient_id";
  const page = (ids: string) => `SELECT patient_id::text AS "patientId", mrn, given_name AS "givenName", family_name AS "familyName",
            to_char(date_of_birth, 'YYYY-MM-DD') AS "dateOfBirth", sex, active, version, updated_at AS "updatedAt",
            sort_key AS "sortKey"
       FROM rm_patients
      WHERE patient_id IN (${ids})
      ${order}`;
  const all = [...listed, ...conditions].join(" AND ");
  // No search, or only words of one or two letters (the start of a word, which the trigram
  // index cannot serve): the list in order from rm_patients_sort_idx, each entry tested there
  // (index-only: a rare letter costs one walk of that index, about half a table scan).
  if (conditions.length === 0 || (typos.size === 0 && searchWords(input.search).every((w) => w.length < 3))) {
    return [page(`SELECT patient_id FROM rm_patients WHERE ${all} ${order} LIMIT ${limit}`), params];
  }
  // Near matches come from the trigram index only (a materialized set: the planner cannot turn
  // it into a walk of the list that computes a similarity for every entry passed, 200 ms and
  // more for a common family name typed with a typo); only their page is sorted.
  if (typos.size > 0) {
    return [`WITH near AS MATERIALIZED (SELECT patient_id, sort_key FROM rm_patients WHERE ${all})
     ${page(`SELECT patient_id FROM near ${order} LIMIT ${limit}`)}`, params];
  }
  // Fragments, in two steps that do not depend on the planner guessing where the matches are.
  // `head`: the first SEARCH_HEAD listed entries in order, tested one by one, from
  // rm_patients_sort_idx alone (it holds the listed patients with search_text: index-only, well
  // under a millisecond): a word that many patients have fills the page there ("d", "ros").
  // Only when it does not (a rare word, or one whose patients sort late, "Núñez"), `matches`:
  // every match from the trigram index, of which only the page is sorted. The planner, left to
  // choose, assumes matches spread evenly along the list and walks it: "nunez jose" read 56,000
  // entries for a page it finds among 400 rows of the trigram index.
  return [
    `WITH head AS (SELECT patient_id, sort_key
                     FROM (SELECT patient_id, sort_key, search_text FROM rm_patients WHERE ${listed.join(" AND ")}
                            ${order} LIMIT ${SEARCH_HEAD}) listed
                    WHERE ${conditions.join(" AND ")}
                    ${order} LIMIT ${limit}),
          matches AS MATERIALIZED (SELECT patient_id, sort_key FROM rm_patients WHERE ${all})
     ${page(`SELECT patient_id FROM head WHERE (SELECT count(*) FROM head) = ${limit}
             UNION ALL
             (SELECT patient_id FROM matches WHERE (SELECT count(*) FROM head) < ${limit} ${order} LIMIT ${limit})`)}`,
    params,
  ];
}

/**
 * Which of the words that may be typos are found nowhere as fragments (among listed patients):
 * the second pass matches only those by similarity. A word found as typed is not a typo, and
 * keeping it a fragment keeps the near-match set small ("Watanabi Aiko": the Watanabes among
 * the Aikos, not every row near either word).
 */
async function typosOf(db: Db, words: readonly string[]): Promise<Set<number>> {
  const candidates = words.flatMap((word, i) => (mayBeTypo(word) ? [i] : []));
  if (candidates.length === 0) return new Set();
  const probes = candidates.map(
    (_, n) => `(emr_fold($${n + 1}) = '' OR EXISTS (SELECT 1 FROM rm_patients WHERE erased_at IS NULL AND search_text LIKE '%' || emr_fold($${n + 1}) || '%')) AS "${n}"`,
  );
  const [found] = await db.$queryRawUnsafe<Record<string, boolean>[]>(`SELECT ${probes.join(", ")}`, ...candidates.map((i) => words[i]));
  return new Set(candidates.filter((_, n) => !found?.[String(n)]));
}

type SearchRow = Omit<PatientListItem, "dateOfBirth"> & { dateOfBirth: string; sortKey: string };

/**
 * A page of the patient list. The fragments first; when they find nobody, the same search with
 * the words found nowhere matched as typos. A page cursor remembers which of the two its search was.
 */
export async function listPatients(db: Db, input: SearchInput) {
  const run = (typos: ReadonlySet<number>) => {
    const [sql, params] = patientSearchSql(input, typos);
    return db.$queryRawUnsafe<SearchRow[]>(sql, ...params);
  };
  const nearMatches = async () => {
    const typos = await typosOf(db, searchWords(input.search));
    return typos.size === 0 ? [] : run(typos);
  };
  const fromCursor = decodeCursor(input.cursor, patientCursor);
  let fuzzy = fromCursor?.f === 1;
  let rows = fuzzy ? await nearMatches() : await run(noTypos);
  if (rows.length === 0 && !fromCursor && searchWords(input.search).some(mayBeTypo)) {
    fuzzy = true;
    rows = await nearMatches();
  }
  const page = rows.slice(0, input.limit);
  const last = page.at(-1);
  return {
    items: page.map(({ sortKey: _sortKey, ...item }) => item),
    nextCursor: rows.length > input.limit && last ? encodeCursor({ k: last.sortKey, id: last.patientId, ...(fuzzy && { f: 1 as const }) }) : null,
  };
}

const encounterSelect = {
  encounterId: true,
  patientId: true,
  providerId: true,
  encounterType: true,
  status: true,
  reason: true,
  location: true,
  startedAt: true,
  endedAt: true,
  outcome: true,
  dischargeDisposition: true,
  durationMinutes: true,
  version: true,
} as const;

const orderSelect = {
  orderId: true,
  patientId: true,
  encounterId: true,
  providerId: true,
  kind: true,
  description: true,
  details: true,
  priority: true,
  status: true,
  statusReason: true,
  resultData: true,
  scheduledFor: true,
  createdAt: true,
  statusChangedAt: true,
  version: true,
} as const;

export const activeOrderStatuses: OrderStatus[] = ["placed", "on_hold", "in_progress"];

/** Display names of the users who appear as providers, for the screens. */
export async function providerNames(db: Db, ids: readonly string[]): Promise<Record<string, string>> {
  const unique = [...new Set(ids)];
  if (unique.length === 0) return {};
  const rows = await db.$queryRawUnsafe<{ id: string; name: string }[]>(
    "SELECT id, name FROM auth_users WHERE id = ANY ($1::text[])",
    unique,
  );
  return Object.fromEntries(rows.map((r) => [r.id, r.name]));
}

/** The chart's most recent encounters. */
const CHART_ENCOUNTERS = 50;
/** The chart's most recent orders. */
const CHART_ORDERS = 100;

/** A timestamp as milliseconds since the epoch (JSON would give it in the session's time zone). */
const epochMs = (column: string) => `floor(extract(epoch FROM ${column}) * 1000)::bigint`;

// The chart in one statement, one snapshot: the patient, the most recent encounters, the most
// recent orders, each with its provider's name, and the encounter count. Before, it was three to
// five statements (the patient, then encounters and orders in parallel, the count for a full
// page, the providers' names), each through Prisma's query pipeline and a round trip of its
// own, and a write landing between them could show an order without its encounter. Ties in time
// are broken by id, so two encounters started in the same minute keep their places between loads.
const chartSql = `
  SELECT json_build_object(
           'patientId', p.patient_id, 'mrn', p.mrn, 'givenName', p.given_name, 'familyName', p.family_name,
           'dateOfBirth', p.date_of_birth, 'sex', p.sex, 'email', p.email, 'phone', p.phone,
           'erasedAt', ${epochMs("p.erased_at")}, 'address', p.address, 'active', p.active, 'safety', p.safety,
           'version', p.version, 'registeredAt', ${epochMs("p.registered_at")}, 'updatedAt', ${epochMs("p.updated_at")}) AS patient,
         (SELECT coalesce(json_agg(json_build_object(
                   'encounterId', e.encounter_id, 'patientId', e.patient_id, 'providerId', e.provider_id,
                   'encounterType', e.encounter_type, 'status', e.status, 'reason', e.reason, 'location', e.location,
                   'startedAt', ${epochMs("e.started_at")}, 'endedAt', ${epochMs("e.ended_at")}, 'outcome', e.outcome,
                   'dischargeDisposition', e.discharge_disposition, 'durationMinutes', e.duration_minutes,
                   'version', e.version, 'providerName', u.name) ORDER BY e.started_at DESC, e.encounter_id), '[]'::json)
            FROM (SELECT * FROM rm_encounters WHERE patient_id = p.patient_id ORDER BY started_at DESC, encounter_id LIMIT ${CHART_ENCOUNTERS}) e
            LEFT JOIN auth_users u ON u.id = e.provider_id) AS encounters,
         (SELECT count(*)::int FROM rm_encounters WHERE patient_id = p.patient_id) AS encounter_count,
         (SELECT coalesce(json_agg(json_build_object(
                   'orderId', o.order_id, 'patientId', o.patient_id, 'encounterId', o.encounter_id, 'providerId', o.provider_id,
                   'kind', o.kind, 'description', o.description, 'details', o.details, 'priority', o.priority,
                   'status', o.status, 'statusReason', o.status_reason, 'resultData', o.result_data,
                   'scheduledFor', ${epochMs("o.scheduled_for")}, 'createdAt', ${epochMs("o.created_at")}, 'statusChangedAt', ${epochMs("o.status_changed_at")},
                   'version', o.version, 'providerName', u.name) ORDER BY o.created_at DESC, o.order_id), '[]'::json)
            FROM (SELECT * FROM rm_orders WHERE patient_id = p.patient_id ORDER BY created_at DESC, order_id LIMIT ${CHART_ORDERS}) o
            LEFT JOIN auth_users u ON u.id = o.provider_id) AS orders
    FROM rm_patients p
   WHERE p.patient_id = $1::uuid`;

type Json = Record<string, unknown>;
type ChartRow = { patient: Json; encounters: Json[]; encounter_count: number; orders: Json[] };

/** A timestamp from epochMs as the Date Prisma would give (milliseconds, the microseconds dropped). */
const instant = (value: unknown): Date => new Date(value as number);
const instantOrNull = (value: unknown): Date | null => (value == null ? null : instant(value));

/** The chart's encounters and orders: the rows the other reads select (encounterSelect, orderSelect), named as they are. */
type Named<T> = T & { providerName: string | null };
type EncounterRow = Named<Prisma.RmEncounterGetPayload<{ select: typeof encounterSelect }>>;
type OrderRow = Named<Prisma.RmOrderGetPayload<{ select: typeof orderSelect }>>;
/** The chart's patient: every column of the read model but the list's sort key and search text. */
type PatientRow = Omit<RmPatient, "sortKey" | "searchText">;

export async function patientChart(db: Db, patientId: string) {
  const rows = await db.$queryRawUnsafe<ChartRow[]>(chartSql, patientId);
  const row = rows[0];
  if (!row) return null;
  const p = row.patient as Omit<PatientRow, "dateOfBirth" | "erasedAt" | "registeredAt" | "updatedAt">;
  const encounters = row.encounters.map((e) => ({
    ...(e as Omit<EncounterRow, "startedAt" | "endedAt">),
    startedAt: instant(e.startedAt),
    endedAt: instantOrNull(e.endedAt),
  }));
  const orders = row.orders.map((o) => ({
    ...(o as Omit<OrderRow, "scheduledFor" | "createdAt" | "statusChangedAt">),
    scheduledFor: instantOrNull(o.scheduledFor),
    createdAt: instant(o.createdAt),
    statusChangedAt: instant(o.statusChangedAt),
    nextStatuses: nextStatusesOf(o.status as string),
  }));
  return {
    patient: {
      ...p,
      // A date column comes as its calendar day (YYYY-MM-DD), as the chart shows it.
      dateOfBirth: (row.patient.dateOfBirth as string | null) ?? PHI_ERASED,
      erasedAt: instantOrNull(row.patient.erasedAt),
      safety: p.safety as unknown as PatientSafety,
      registeredAt: instant(row.patient.registeredAt),
      updatedAt: instant(row.patient.updatedAt),
    },
    openEncounters: encounters.filter((e) => e.status === "in_progress"),
    recentEncounters: encounters,
    encounterCount: row.encounter_count,
    activeOrders: orders.filter((o) => activeOrderStatuses.includes(o.status as OrderStatus)),
    orders,
  };
}

function withProvider<T extends { providerId: string }>(row: T, names: Record<string, string>) {
  return { ...row, providerName: names[row.providerId] ?? null };
}

/** Where an order in this status may go next (the order decider's transitions). */
const nextStatusesOf = (status: string): OrderStatus[] => [...(orderTransitions[status as OrderStatus] ?? [])];

function withOrderExtras<T extends { providerId: string; status: string }>(row: T, names: Record<string, string>) {
  return { ...withProvider(row, names), nextStatuses: nextStatusesOf(row.status) };
}

export async function encounterById(db: Db, encounterId: string) {
  const row = await db.rmEncounter.findUnique({ where: { encounterId }, select: encounterSelect });
  if (!row) return null;
  const names = await providerNames(db, [row.providerId]);
  return withProvider(row, names);
}

export async function encountersForPatient(db: Db, patientId: string) {
  const rows = await db.rmEncounter.findMany({ where: { patientId }, select: encounterSelect, orderBy: { startedAt: "desc" }, take: 500 });
  const names = await providerNames(db, rows.map((r) => r.providerId));
  return rows.map((r) => withProvider(r, names));
}

export async function orderById(db: Db, orderId: string) {
  const row = await db.rmOrder.findUnique({ where: { orderId }, select: orderSelect });
  if (!row) return null;
  const names = await providerNames(db, [row.providerId]);
  return withOrderExtras(row, names);
}

/** The worklist's sort key (priority_rank smallint, created_at timestamptz, order_id uuid). */
export const worklistCursor = z.strictObject({ r: z.int().min(0).max(INT2_MAX), t: cursorInstant, id: z.uuid() });

export async function orderWorklist(
  db: Db,
  input: { statuses: OrderStatus[]; priority?: string; providerId?: string; kind?: string; cursor?: string | null; limit: number },
) {
  const params: unknown[] = [input.statuses];
  const where = ["o.status = ANY ($1::text[])"];
  if (input.priority) {
    params.push(input.priority);
    where.push(`o.priority = $${params.length}`);
  }
  if (input.providerId) {
    params.push(input.providerId);
    where.push(`o.provider_id = $${params.length}`);
  }
  if (input.kind) {
    params.push(input.kind);
    where.push(`o.kind = $${params.length}`);
  }
  const after = decodeCursor(input.cursor, worklistCursor);
  if (after) {
    params.push(after.r, after.t, after.id);
    const n = params.length;
    where.push(`(o.priority_rank, o.created_at, o.order_id) > ($${n - 2}::smallint, $${n - 1}::timestamptz, $${n}::uuid)`);
  }
  params.push(input.limit + 1);
  const rows = await db.$queryRawUnsafe<
    {
      orderId: string;
      patientId: string;
      mrn: string;
      patientName: string;
      kind: string;
      description: string;
      priority: string;
      priorityRank: number;
      status: string;
      providerId: string;
      providerName: string | null;
      scheduledFor: Date | null;
      createdAt: Date;
      statusChangedAt: Date;
      version: number;
    }[]
  >(
    `SELECT o.order_id::text AS "orderId", o.patient_id::text AS "patientId", p.mrn,
            trim(p.given_name || ' ' || p.family_name) AS "patientName", o.kind, o.description, o.priority,
            o.priority_rank AS "priorityRank", o.status, o.provider_id AS "providerId", u.name AS "providerName",
            o.scheduled_for AS "scheduledFor", o.created_at AS "createdAt", o.status_changed_at AS "statusChangedAt", o.version
       FROM rm_orders o
       JOIN rm_patients p ON p.patient_id = o.patient_id
       LEFT JOIN auth_users u ON u.id = o.provider_id
      WHERE ${where.join(" AND ")}
      ORDER BY o.priority_rank, o.created_at, o.order_id
      LIMIT $${params.length}`,
    ...params,
  );
  const page = rows.slice(0, input.limit);
  const last = page.at(-1);
  return {
    items: page.map((r) => ({ ...r, nextStatuses: [...(orderTransitions[r.status as OrderStatus] ?? [])] })),
    nextCursor:
      rows.length > input.limit && last
        ? encodeCursor({ r: last.priorityRank, t: last.createdAt.toISOString(), id: last.orderId })
        : null,
  };
}

/** The stream ids that make up a patient's record: the patient, its encounters and orders. */
export async function patientStreamIds(db: Db, patientId: string): Promise<string[]> {
  const [encounters, orders] = await Promise.all([
    db.rmEncounter.findMany({ where: { patientId }, select: { encounterId: true } }),
    db.rmOrder.findMany({ where: { patientId }, select: { orderId: true } }),
  ]);
  return [
    patientStream(patientId),
    ...encounters.map((e) => encounterStream(e.encounterId)),
    ...orders.map((o) => orderStream(o.orderId)),
  ];
}
