// This process's running totals for the current minute, by rollup metric: what ./rollups.ts
// upserts into metric_rollups. Counters add up, durations add their seconds and count samples,
// gauges keep the last sample. Finished minutes wait here until they are written (bounded, so
// a database outage cannot grow memory without end).
export type Cell = { value: number; samples: number };
export type MinuteTotals = { minute: number; cells: Map<string, Cell> };

const keepClosed = 180;
const key = Symbol.for("emr.metricMinutes");
type State = { current: MinuteTotals; closed: MinuteTotals[] };
type GlobalWithMinutes = typeof globalThis & { [key]?: State };

export const minuteOf = (ms: number) => Math.floor(ms / 60_000) * 60_000;

function state(now = Date.now()): State {
  const g = globalThis as GlobalWithMinutes;
  g[key] ??= { current: { minute: minuteOf(now), cells: new Map() }, closed: [] };
  const s = g[key];
  const minute = minuteOf(now);
  // Only forward: a time from an earlier minute (taken before an await that crossed the minute's
  // end) must not reopen that minute. Reopening put it in `closed` a second time, and one upsert
  // of both copies failed (a row can be updated once per statement) on every flush for hours.
  if (minute > s.current.minute) {
    if (s.current.cells.size > 0) s.closed.push(s.current);
    if (s.closed.length > keepClosed) s.closed.splice(0, s.closed.length - keepClosed);
    s.current = { minute, cells: new Map() };
  }
  return s;
}

/**
 * The cells of `now`'s minute: the current one, or a finished minute still waiting to be written.
 * A time from a minute already written counts in the current one: writing that minute again would
 * replace its stored totals with this late part of them.
 */
function cellsAt(now: number): Map<string, Cell> {
  const s = state(now);
  const minute = minuteOf(now);
  if (minute === s.current.minute) return s.current.cells;
  return s.closed.find((m) => m.minute === minute)?.cells ?? s.current.cells;
}

/** Adds `value` (a count, or a duration's seconds) and one sample to `metric` for this minute. */
export function addToMinute(metric: string, value: number, now = Date.now()): void {
  const cells = cellsAt(now);
  const cell = cells.get(metric);
  if (cell) {
    cell.value += value;
    cell.samples += 1;
  } else {
    cells.set(metric, { value, samples: 1 });
  }
}

/** Sets a gauge's sample for this minute (charts take the largest over processes). */
export function setInMinute(metric: string, value: number, now = Date.now()): void {
  cellsAt(now).set(metric, { value, samples: 1 });
}

/** The finished minutes not written yet, and a copy of the current one. */
export function unwrittenMinutes(now = Date.now()): MinuteTotals[] {
  const s = state(now);
  const current = { minute: s.current.minute, cells: new Map([...s.current.cells].map(([k, c]) => [k, { ...c }])) };
  return [...s.closed, current];
}

/** Forgets finished minutes up to and including `minute` once they are stored. */
export function markWritten(minute: number): void {
  const s = state();
  s.closed = s.closed.filter((m) => m.minute > minute);
}
