// Raw: the ceiling. Plain node-postgres, named prepared statements, one round trip per append,
// on tables with our columns but only the keys (primary key, unique (stream_id, version)):
// the same rows as ours (events, the stream's version, outbox rows), nothing else.
import pg from "pg";
import type { NewEvent } from "../../server/eventStore/types";
import { aggregateType, evolve, foldReplay, initialReplay, initialState, type BenchState } from "../lib/events";
import { installStockParsers } from "../lib/pgTypes";
import type { Contender } from "./contender";

/** The raw contender's tables (also created by bench/diagnoseCallgrind.ts). */
export const rawDdl = `
CREATE TABLE raw_events (
    global_position  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id         uuid        NOT NULL,
    stream_id        text        NOT NULL,
    aggregate_type   text        NOT NULL,
    event_type       text        NOT NULL,
    version          integer     NOT NULL,
    event_version    integer     NOT NULL DEFAULT 1,
    data             jsonb       NOT NULL,
    metadata         jsonb       NOT NULL DEFAULT '{}'::jsonb,
    occurred_at      timestamptz NOT NULL,
    recorded_at      timestamptz NOT NULL DEFAULT now(),
    user_id          text        NOT NULL,
    correlation_id   text        NOT NULL,
    causation_id     text,
    transaction_id   xid8        NOT NULL DEFAULT pg_current_xact_id(),
    CONSTRAINT raw_events_stream_version_key UNIQUE (stream_id, version)
);
CREATE TABLE raw_streams (
    stream_id    text        PRIMARY KEY,
    stream_type  text        NOT NULL,
    version      integer     NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE raw_outbox (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id         uuid        NOT NULL,
    global_position  bigint      NOT NULL,
    stream_id        text        NOT NULL,
    event_type       text        NOT NULL,
    correlation_id   text        NOT NULL,
    occurred_at      timestamptz NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    attempts         integer     NOT NULL DEFAULT 0,
    next_retry_at    timestamptz NOT NULL DEFAULT now(),
    last_error       text,
    processed_at     timestamptz,
    dead_lettered_at timestamptz
);
CREATE TABLE raw_snapshots (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    stream_id       text        NOT NULL,
    aggregate_type  text        NOT NULL,
    version         integer     NOT NULL,
    snapshot_type   text        NOT NULL,
    state_version   integer     NOT NULL DEFAULT 1,
    data            jsonb       NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT raw_snapshots_stream_version_key UNIQUE (stream_id, version)
);`;

// The events and outbox rows of one batch, given the stream row the first CTE wrote (none on a
// version conflict, so nothing is inserted). $3 is the batch size; $4..$10 the batch's columns.
const insertRows = (versionExpr: string) => `
  ins AS (
    INSERT INTO raw_events (event_id, stream_id, aggregate_type, event_type, version, data, occurred_at, user_id, correlation_id, causation_id)
    SELECT e.event_id, $1, $2, e.event_type, ${versionExpr}, e.data, e.occurred_at, e.user_id, e.correlation_id, e.causation_id
      FROM s, unnest($4::uuid[], $5::text[], $6::jsonb[], $7::timestamptz[], $8::text[], $9::text[], $10::text[])
           WITH ORDINALITY AS e(event_id, event_type, data, occurred_at, user_id, correlation_id, causation_id, ord)
    RETURNING global_position, event_id, stream_id, event_type, correlation_id, occurred_at
  ), queued AS (
    INSERT INTO raw_outbox (event_id, global_position, stream_id, event_type, correlation_id, occurred_at)
    SELECT event_id, global_position, stream_id, event_type, correlation_id, occurred_at FROM ins
  )
  SELECT version FROM s`;

export const createStream = `
  WITH s AS (
    INSERT INTO raw_streams (stream_id, stream_type, version) VALUES ($1, $2, $3)
    ON CONFLICT (stream_id) DO NOTHING
    RETURNING version
  ), ${insertRows("e.ord::integer")}`;

export const appendStream = `
  WITH s AS (
    UPDATE raw_streams SET version = version + $3, updated_at = now()
     WHERE stream_id = $1 AND version = $11
    RETURNING version
  ), ${insertRows("(s.version - $3 + e.ord)::integer")}`;

type RawRow = { global_position: string; stream_id: string; event_type: string; version: number; data: Record<string, unknown> };

/** The statements' parameters $4..$10 for a batch (also used by bench/diagnose.ts). */
export function rawColumns(events: NewEvent[]) {
  return [
    events.map((e) => e.eventId),
    events.map((e) => e.type),
    events.map((e) => JSON.stringify(e.data)),
    events.map((e) => e.occurredAt.toISOString()),
    events.map((e) => e.userId),
    events.map((e) => e.correlationId),
    events.map((e) => e.causationId),
  ];
}

/** The naive replay ceiling: a table's rows in position order over its primary key (not commit order), folded. */
export async function replayByPosition(pool: pg.Pool, table: "raw_events" | "events", pageSize: number) {
  const state = initialReplay();
  let after = "0";
  for (;;) {
    const page = await pool.query<RawRow>({
      name: `replay_by_position_${table}`,
      text: `SELECT * FROM ${table} WHERE global_position > $1 ORDER BY global_position LIMIT $2`,
      values: [after, pageSize],
    });
    for (const row of page.rows) foldReplay(state, row.event_type, row.stream_id);
    const last = page.rows.at(-1);
    if (last) after = last.global_position;
    if (page.rows.length < pageSize) return state;
  }
}

const fold = (state: BenchState, rows: RawRow[]) => rows.reduce((s, row) => evolve(s, { type: row.event_type, data: row.data }), state);

export async function openRaw(url: string, poolMax: number): Promise<Contender & { pool: pg.Pool }> {
  const pool = new pg.Pool({ connectionString: url, max: poolMax });
  pool.on("error", () => {});
  await pool.query(rawDdl);
  const byStream = (from: number, to = 2_147_483_647) => ({
    name: "raw_by_stream",
    text: "SELECT * FROM raw_events WHERE stream_id = $1 AND version >= $2 AND version <= $3 ORDER BY version",
    values: [from, to],
  });
  const readStream = async (streamId: string, from = 1, to?: number) => {
    const q = byStream(from, to);
    return (await pool.query<RawRow>({ ...q, values: [streamId, ...q.values] })).rows;
  };
  return {
    name: "raw",
    pool,
    enter: installStockParsers,
    async append(streamId, events, expected) {
      const values: unknown[] = [streamId, aggregateType, events.length, ...rawColumns(events)];
      const result =
        expected === 0
          ? await pool.query<{ version: number }>({ name: "raw_create", text: createStream, values })
          : await pool.query<{ version: number }>({ name: "raw_append", text: appendStream, values: [...values, expected] });
      const row = result.rows[0];
      return row ? { ok: true, version: row.version } : { ok: false, actual: null };
    },
    async version(streamId) {
      const r = await pool.query<{ version: number }>({
        name: "raw_version",
        text: "SELECT version FROM raw_streams WHERE stream_id = $1",
        values: [streamId],
      });
      return r.rows[0]?.version ?? 0;
    },
    async load(streamId, useSnapshot) {
      let state = initialState();
      let from = 1;
      if (useSnapshot) {
        const snap = await pool.query<{ version: number; data: BenchState }>({
          name: "raw_snapshot",
          text: "SELECT version, data FROM raw_snapshots WHERE stream_id = $1 ORDER BY version DESC LIMIT 1",
          values: [streamId],
        });
        const row = snap.rows[0];
        if (row) {
          state = row.data;
          from = row.version + 1;
        }
      }
      const rows = await readStream(streamId, from);
      return { state: fold(state, rows), version: rows.at(-1)?.version ?? from - 1 };
    },
    async saveSnapshot(streamId, version, state) {
      await pool.query(
        `INSERT INTO raw_snapshots (stream_id, aggregate_type, version, snapshot_type, data) VALUES ($1, $2, $3, $2, $4)`,
        [streamId, aggregateType, version, JSON.stringify(state)],
      );
      return true;
    },
    async stateAt(streamId, version) {
      return fold(initialState(), await readStream(streamId, 1, version));
    },
    async count() {
      return Number((await pool.query<{ n: string }>("SELECT count(*) AS n FROM raw_events")).rows[0]?.n ?? 0);
    },
    replay: (pageSize) => replayByPosition(pool, "raw_events", pageSize),
    vacuumLog: async () => void (await pool.query("VACUUM (ANALYZE) raw_events, raw_streams, raw_outbox")),
    close: () => pool.end(),
  };
}
