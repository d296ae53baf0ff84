"use client";
// The seed's six metrics (and load latency, HTTP errors) as time-series charts over the last
// hour or day, for the whole cluster: per-minute rollups summed over processes. Refreshes itself.
import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { CartesianGrid, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { EmptyState, ErrorState, Loading } from "../States";
import { useTRPC } from "../trpc";
import { formatBytes } from "../format";

type Range = "hour" | "day";
type Point = { t: number } & Record<string, number | null>;

/** A series on the right-hand axis has a unit of its own (ms beside seconds, events beside ms). */
type Series = { key: string; label: string; color: string; right?: { unit: string } };
type ChartSpec = { id: string; title: string; unit: string; help: string; series: Series[]; format?: (v: number) => string };

const number = (v: number) => (Math.abs(v) >= 100 ? Math.round(v).toLocaleString("en-US") : Number(v.toPrecision(3)).toLocaleString("en-US"));
const bytes = formatBytes;

const charts: ChartSpec[] = [
  {
    id: "append-rate",
    title: "Event append rate",
    unit: "events/min",
    help: "Events appended per minute, all processes.",
    series: [{ key: "appendsPerMinute", label: "events/min", color: "#2563eb" }],
  },
  {
    id: "store-size",
    title: "Event store size",
    unit: "events",
    help: "Events in the store (the log's highest position).",
    series: [{ key: "storeEvents", label: "events", color: "#0f766e" }],
  },
  {
    id: "snapshot-frequency",
    title: "Snapshot creation frequency",
    unit: "snapshots/min",
    help: "Aggregate snapshots written per minute.",
    series: [{ key: "snapshotsPerMinute", label: "snapshots/min", color: "#7c3aed" }],
  },
  {
    id: "outbox-lag",
    title: "Outbox processing lag",
    unit: "s",
    help: "Age of the longest-waiting unpublished event (s, left axis), and the average append-to-publish latency (ms, right axis).",
    series: [
      { key: "outboxLagSeconds", label: "oldest waiting (s)", color: "#c2410c" },
      { key: "publishLatencyMs", label: "append to publish (ms, right axis)", color: "#2563eb", right: { unit: "ms" } },
    ],
  },
  {
    id: "conflict-rate",
    title: "Concurrency conflict rate",
    unit: "conflicts/min",
    help: "Appends and edits refused because the record had moved on.",
    series: [{ key: "conflictsPerMinute", label: "conflicts/min", color: "#b91c1c" }],
  },
  {
    id: "replay-duration",
    title: "Event replay duration",
    unit: "ms",
    help: "Average time of a replay (time travel, projection rebuilds; ms, left axis), and events replayed per minute (right axis).",
    series: [
      { key: "replayMs", label: "average replay (ms)", color: "#0369a1" },
      { key: "replayEventsPerMinute", label: "events replayed/min (right axis)", color: "#a16207", right: { unit: "events/min" } },
    ],
  },
  {
    id: "load-latency",
    title: "Aggregate load latency",
    unit: "ms",
    help: "Average time to load an aggregate (snapshot plus later events).",
    series: [{ key: "loadMs", label: "average load (ms)", color: "#15803d" }],
  },
  {
    id: "http-errors",
    title: "HTTP errors",
    unit: "errors/min",
    help: "Procedure calls that ended in an error per minute; server errors are the ones to chase.",
    series: [
      { key: "httpErrorsPerMinute", label: "all errors/min", color: "#d97706" },
      { key: "httpServerErrorsPerMinute", label: "server errors/min", color: "#b91c1c" },
    ],
  },
];

function timeLabel(t: number, range: Range): string {
  const d = new Date(t);
  return range === "hour"
    ? d.toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit" })
    : d.toLocaleString("en-GB", { weekday: "short", hour: "2-digit", minute: "2-digit" });
}

/** The axis's unit, written along it, so two axes of one chart cannot be read against each other's scale. */
function axisLabel(unit: string, side: "left" | "right") {
  return { value: unit, angle: side === "left" ? -90 : 90, position: side === "left" ? "insideLeft" : "insideRight", fontSize: 11, fill: "#6b7280", style: { textAnchor: "middle" } } as const;
}

function latest(points: readonly Point[], key: string): number | null {
  for (let i = points.length - 1; i >= 0; i--) {
    const v = points[i]?.[key];
    if (v !== null && v !== undefined) return v;
  }
  return null;
}

function Chart({ spec, points, range }: { spec: ChartSpec; points: Point[]; range: Range }) {
  const format = spec.id === "store-size" ? number : (spec.format ?? number);
  const hasData = spec.series.some((s) => points.some((p) => p[s.key] !== null && p[s.key] !== undefined));
  const primary = spec.series[0]!;
  const now = latest(points, primary.key);
  const rightUnit = spec.series.find((s) => s.right)?.right?.unit;
  return (
    <figure className="panel metric-chart" data-testid={`chart-${spec.id}`} aria-labelledby={`chart-${spec.id}-title`}>
      <figcaption>
        <h2 id={`chart-${spec.id}-title`}>{spec.title}</h2>
        <span className="metric-now" data-testid={`chart-${spec.id}-latest`}>
          {now === null ? "no data" : `${format(now)} ${spec.unit}`}
        </span>
      </figcaption>
      <p className="muted">{spec.help}</p>
      {hasData ? (
        <div className="metric-plot">
          <ResponsiveContainer width="100%" height={180}>
            <LineChart data={points} margin={{ top: 8, right: rightUnit ? 0 : 12, bottom: 0, left: 0 }}>
              <CartesianGrid stroke="#e5e7eb" vertical={false} />
              <XAxis dataKey="t" type="number" domain={["dataMin", "dataMax"]} tickFormatter={(t: number) => timeLabel(t, range)} fontSize={11} minTickGap={40} />
              <YAxis yAxisId="left" tickFormatter={(v: number) => format(v)} fontSize={11} width={56} allowDecimals label={axisLabel(spec.unit, "left")} />
              {rightUnit ? (
                <YAxis yAxisId="right" orientation="right" tickFormatter={(v: number) => format(v)} fontSize={11} width={68} allowDecimals label={axisLabel(rightUnit, "right")} />
              ) : null}
              <Tooltip
                labelFormatter={(t) => timeLabel(Number(t), range)}
                formatter={(v, name) => [v === null || v === undefined ? "—" : format(Number(v)), String(name)]}
              />
              {spec.series.map((s) => (
                <Line key={s.key} yAxisId={s.right ? "right" : "left"} type="monotone" dataKey={s.key} name={s.label} stroke={s.color} strokeWidth={2} dot={{ r: 2, fill: s.color }} connectNulls isAnimationActive={false} />
              ))}
            </LineChart>
          </ResponsiveContainer>
          {spec.series.length > 1 ? (
            <ul className="metric-legend">
              {spec.series.map((s) => (
                <li key={s.key}>
                  <span style={{ background: s.color }} aria-hidden="true" /> {s.label}
                </li>
              ))}
            </ul>
          ) : null}
        </div>
      ) : (
        <p className="metric-empty">Nothing recorded in this period.</p>
      )}
    </figure>
  );
}

export function MetricsCharts() {
  const trpc = useTRPC();
  const [range, setRange] = useState<Range>("hour");
  const history = useQuery(trpc.observability.metricsHistory.queryOptions({ range }, { refetchInterval: 15_000 }));
  const points = (history.data?.points ?? []) as unknown as Point[];
  const anyData = points.some((p) => Object.entries(p).some(([k, v]) => k !== "t" && v !== null));
  const storeBytes = latest(points, "storeBytes");

  return (
    <section aria-label="Metric charts" data-testid="metrics">
      <div className="metric-toolbar">
        <div role="group" aria-label="Period" className="segmented">
          {(["hour", "day"] as const).map((r) => (
            <button key={r} type="button" aria-pressed={range === r} onClick={() => setRange(r)}>
              Last {r}
            </button>
          ))}
        </div>
        <span className="muted" aria-live="polite">
          {history.isFetching ? "Refreshing…" : history.data ? `Updated ${new Date(history.data.generatedAt).toLocaleTimeString("en-GB")}, every 15 s` : ""}
          {storeBytes !== null ? ` · store on disk ${bytes(storeBytes)}` : ""}
        </span>
      </div>
      {history.isPending ? (
        <Loading label="Loading the metrics" lines={["40%", { width: "100%", height: 180 }, "30%", { width: "100%", height: 180 }]} />
      ) : history.isError ? (
        <ErrorState onRetry={() => void history.refetch()}>Could not load the metrics: {history.error.message}</ErrorState>
      ) : !anyData ? (
        <EmptyState>No metrics recorded yet. Each process writes its figures once every 15 seconds; come back in a minute.</EmptyState>
      ) : (
        <div className="metric-grid">
          {charts.map((spec) => (
            <Chart key={spec.id} spec={spec} points={points} range={range} />
          ))}
        </div>
      )}
    </section>
  );
}
