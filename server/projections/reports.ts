// What the operations pages show, read from the async projections' tables: order turnaround
// percentiles and overdue orders, the census, and activity by user and day. Days and hours are
// the viewer's (an IANA time zone from the browser), computed in SQL from stored instants.
import { prismaRunner, type Db } from "../eventStore";
import { overdueAfterMinutes } from "../../shared/clinical/orders";
import { liveTarget, type ProjectionTarget } from "./types";

/** Local hours counted as night for the activity view: 22:00 to 05:59. */
export const nightHours = { from: 22, until: 6 } as const;

const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

/** The first instant of the local day `daysAgo` days before `now`'s local day, computed by PostgreSQL. */
const localDayStart = (now: string, tz: string, daysAgo: string) =>
  `((date_trunc('day', ${now}::timestamptz AT TIME ZONE ${tz}) - ${daysAgo}::integer * interval '1 day') AT TIME ZONE ${tz})`;

// ---- order turnaround ------------------------------------------------------------------------

export type TurnaroundInput = { days: number; timeZone: string; now: Date };

export async function turnaroundReport(db: Db, input: TurnaroundInput, target: ProjectionTarget = liveTarget) {
  const t = target.table("rm_order_turnaround");
  const sql = prismaRunner(db);
  const since = localDayStart("$1", "$2", "$3");
  const params = [input.now.toISOString(), input.timeZone, input.days - 1];
  const minutes = "extract(epoch FROM closed_at - placed_at) / 60";
  const stats = `count(*) FILTER (WHERE status = 'completed') AS completed,
                 count(*) FILTER (WHERE status = 'cancelled') AS cancelled,
                 percentile_cont(0.5) WITHIN GROUP (ORDER BY ${minutes}) FILTER (WHERE status = 'completed') AS p50,
                 percentile_cont(0.9) WITHIN GROUP (ORDER BY ${minutes}) FILTER (WHERE status = 'completed') AS p90,
                 percentile_cont(0.5) WITHIN GROUP (ORDER BY ${minutes}) FILTER (WHERE status = 'cancelled') AS cancelled_p50`;
  type StatRow = { kind: string; priority: string; completed: unknown; cancelled: unknown; p50: unknown; p90: unknown; cancelled_p50: unknown };
  const toStats = (r: StatRow) => ({
    kind: r.kind,
    priority: r.priority,
    completed: num(r.completed),
    cancelled: num(r.cancelled),
    p50Minutes: numOrNull(r.p50),
    p90Minutes: numOrNull(r.p90),
    cancelledP50Minutes: numOrNull(r.cancelled_p50),
  });

  const [daily, summary, open] = await Promise.all([
    sql<StatRow & { day: string }>(
      `SELECT to_char((closed_at AT TIME ZONE $2)::date, 'YYYY-MM-DD') AS day, kind, priority, ${stats}
         FROM ${t} WHERE closed_at >= ${since}
        GROUP BY 1, 2, 3 ORDER BY 1 DESC, 2, 3`,
      params,
    ),
    sql<StatRow>(`SELECT kind, priority, ${stats} FROM ${t} WHERE closed_at >= ${since} GROUP BY 1, 2 ORDER BY 1, 2`, params),
    sql<{ kind: string; priority: string; open: unknown; overdue: unknown }>(
      `SELECT kind, priority, count(*) AS open,
              count(*) FILTER (WHERE $1::timestamptz - greatest(placed_at, coalesce(scheduled_for, placed_at))
                                     > (($2::jsonb ->> priority)::integer * interval '1 minute')) AS overdue
         FROM ${t} WHERE closed_at IS NULL GROUP BY 1, 2 ORDER BY 1, 2`,
      [input.now.toISOString(), JSON.stringify(overdueAfterMinutes)],
    ),
  ]);
  const openBy = new Map(open.map((o) => [`${o.kind}|${o.priority}`, { open: num(o.open), overdue: num(o.overdue) }]));
  const keys = new Set([...summary.map((s) => `${s.kind}|${s.priority}`), ...openBy.keys()]);
  const summaryBy = new Map(summary.map((s) => [`${s.kind}|${s.priority}`, toStats(s)]));
  return {
    thresholds: overdueAfterMinutes,
    summary: [...keys].sort().map((key) => {
      const [kind = "", priority = ""] = key.split("|");
      const s = summaryBy.get(key) ?? { kind, priority, completed: 0, cancelled: 0, p50Minutes: null, p90Minutes: null, cancelledP50Minutes: null };
      return { ...s, ...(openBy.get(key) ?? { open: 0, overdue: 0 }) };
    }),
    daily: daily.map((r) => ({ day: r.day, ...toStats(r) })),
  };
}

export type OverdueOrder = {
  orderId: string;
  patientId: string;
  kind: string;
  priority: string;
  description: string;
  status: string;
  placedAt: Date;
  dueFrom: Date;
  /** Minutes past the priority's threshold. */
  overdueMinutes: number;
};

/** Open orders past their priority's threshold, the furthest past first. */
export async function overdueOrders(db: Db, input: { now: Date; limit: number }, target: ProjectionTarget = liveTarget): Promise<OverdueOrder[]> {
  const t = target.table("rm_order_turnaround");
  const rows = await prismaRunner(db)<{
    order_id: string;
    patient_id: string;
    kind: string;
    priority: string;
    description: string;
    status: string;
    placed_at: Date;
    due_from: Date;
    overdue_minutes: unknown;
  }>(
    `SELECT order_id::text, patient_id::text, kind, priority, description, status, placed_at, due_from,
            extract(epoch FROM $1::timestamptz - due_from) / 60 - threshold AS overdue_minutes
       FROM (SELECT *, greatest(placed_at, coalesce(scheduled_for, placed_at)) AS due_from,
                    ($2::jsonb ->> priority)::integer AS threshold
               FROM ${t} WHERE closed_at IS NULL) AS o
      WHERE $1::timestamptz - due_from > threshold * interval '1 minute'
      ORDER BY overdue_minutes DESC, order_id LIMIT $3`,
    [input.now.toISOString(), JSON.stringify(overdueAfterMinutes), input.limit],
  );
  return rows.map((r) => ({
    orderId: r.order_id,
    patientId: r.patient_id,
    kind: r.kind,
    priority: r.priority,
    description: r.description,
    status: r.status,
    placedAt: new Date(r.placed_at),
    dueFrom: new Date(r.due_from),
    overdueMinutes: Math.floor(num(r.overdue_minutes)),
  }));
}

// ---- census ----------------------------------------------------------------------------------

export async function censusReport(db: Db, input: { timeZone: string; now: Date }, target: ProjectionTarget = liveTarget) {
  const t = target.table("rm_census_encounters");
  const sql = prismaRunner(db);
  const today = localDayStart("$1", "$2", "0");
  const tomorrow = localDayStart("$1", "$2", "-1");
  const params = [input.now.toISOString(), input.timeZone];
  const [byType, byProvider, dispositions] = await Promise.all([
    sql<{ encounter_type: string; open: unknown; admitted: unknown; discharged: unknown }>(
      `SELECT encounter_type,
              count(*) FILTER (WHERE ended_at IS NULL AND started_at <= $1::timestamptz) AS open,
              count(*) FILTER (WHERE started_at >= ${today} AND started_at < ${tomorrow}) AS admitted,
              count(*) FILTER (WHERE ended_at >= ${today} AND ended_at < ${tomorrow}) AS discharged
         FROM ${t}
        WHERE ended_at IS NULL OR ended_at >= ${today} OR started_at >= ${today}
        GROUP BY 1 ORDER BY 1`,
      params,
    ),
    sql<{ encounter_type: string; provider_id: string; open: unknown }>(
      `SELECT encounter_type, provider_id, count(*) AS open FROM ${t}
        WHERE ended_at IS NULL AND started_at <= $1::timestamptz GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2 LIMIT 200`,
      [input.now.toISOString()],
    ),
    sql<{ discharge_disposition: string; discharged: unknown }>(
      `SELECT discharge_disposition, count(*) AS discharged FROM ${t}
        WHERE ended_at >= ${today} AND ended_at < ${tomorrow} GROUP BY 1 ORDER BY 2 DESC, 1`,
      params,
    ),
  ]);
  return {
    byType: byType.map((r) => ({ encounterType: r.encounter_type, open: num(r.open), admittedToday: num(r.admitted), dischargedToday: num(r.discharged) })),
    byProvider: byProvider.map((r) => ({ encounterType: r.encounter_type, providerId: r.provider_id, open: num(r.open) })),
    dispositionsToday: dispositions.map((r) => ({ disposition: r.discharge_disposition, discharged: num(r.discharged) })),
  };
}

// ---- activity by user and day ----------------------------------------------------------------

export type ActivityInput = { days: number; timeZone: string; now: Date; userId?: string };

export async function activityReport(db: Db, input: ActivityInput, target: ProjectionTarget = liveTarget) {
  const hourly = target.table("rm_activity_hourly");
  const patients = target.table("rm_activity_patients");
  const sql = prismaRunner(db);
  const since = localDayStart("$1", "$2", "$3");
  const params: unknown[] = [input.now.toISOString(), input.timeZone, input.days - 1, input.userId ?? null];
  const local = "(hour_start AT TIME ZONE $2)";
  const night = `(extract(hour FROM ${local}) >= ${nightHours.from} OR extract(hour FROM ${local}) < ${nightHours.until})`;
  const scope = `hour_start >= ${since} AND hour_start <= $1::timestamptz AND ($4::text IS NULL OR user_id = $4)`;
  const [days, distinct, hours, types] = await Promise.all([
    sql<{ day: string; user_id: string; events: unknown; night_events: unknown }>(
      `SELECT to_char(${local}::date, 'YYYY-MM-DD') AS day, user_id, sum(events) AS events,
              coalesce(sum(events) FILTER (WHERE ${night}), 0) AS night_events
         FROM ${hourly} WHERE ${scope} GROUP BY 1, 2 ORDER BY 1, 2`,
      params,
    ),
    sql<{ day: string; user_id: string; patients: unknown }>(
      `SELECT to_char(${local}::date, 'YYYY-MM-DD') AS day, user_id, count(DISTINCT patient_id) AS patients
         FROM ${patients} WHERE ${scope} GROUP BY 1, 2`,
      params,
    ),
    sql<{ hour: unknown; user_id: string; events: unknown }>(
      `SELECT extract(hour FROM ${local})::integer AS hour, user_id, sum(events) AS events
         FROM ${hourly} WHERE ${scope} GROUP BY 1, 2 ORDER BY 1, 2`,
      params,
    ),
    sql<{ user_id: string; event_type: string; events: unknown }>(
      `SELECT user_id, event_type, sum(events) AS events FROM ${hourly} WHERE ${scope} GROUP BY 1, 2 ORDER BY 1, 3 DESC, 2`,
      params,
    ),
  ]);
  const patientsBy = new Map(distinct.map((d) => [`${d.day}|${d.user_id}`, num(d.patients)]));
  const typesBy = new Map<string, { eventType: string; events: number }[]>();
  for (const r of types) typesBy.set(r.user_id, [...(typesBy.get(r.user_id) ?? []), { eventType: r.event_type, events: num(r.events) }]);
  const userIds = [...new Set(days.map((d) => d.user_id))];
  return {
    userIds,
    /** One row per user and local day. */
    userDays: days.map((d) => ({
      day: d.day,
      userId: d.user_id,
      events: num(d.events),
      nightEvents: num(d.night_events),
      patients: patientsBy.get(`${d.day}|${d.user_id}`) ?? 0,
    })),
    /** Events per user and local hour of day (0-23) over the whole range. */
    byHour: hours.map((h) => ({ hour: num(h.hour), userId: h.user_id, events: num(h.events) })),
    /** Each user's event types over the range, most frequent first. */
    typesByUser: Object.fromEntries(typesBy),
  };
}
