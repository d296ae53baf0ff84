"use client";
// "As of 2 s ago": how far the numbers on a page built from an async projection trail the log.
import { useEffect, useState } from "react";

export type Lag = { appliedUpTo: Date | null; newestInLog: Date | null; lagSeconds: number | null };

/** 42 -> "42 s", 150 -> "2 min", 7300 -> "2 h 1 min". */
export function formatLag(seconds: number): string {
  if (seconds < 1) return "under a second";
  if (seconds < 90) return `${Math.round(seconds)} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 90) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  return `${hours} h${minutes % 60 ? ` ${minutes % 60} min` : ""}`;
}

/**
 * The lag when the page loaded plus the time since (a page left open keeps ageing until its
 * next refresh), or that nothing has been projected yet.
 */
export function ProjectionLag({ lag, fetchedAt }: { lag: Lag; fetchedAt: number }) {
  const [tick, setTick] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setTick(Date.now()), 1_000);
    return () => clearInterval(timer);
  }, []);
  if (lag.lagSeconds === null) {
    return (
      <p className="lag warn" data-testid="projection-lag" role="status">
        Not built yet: the projection has not applied any events.
      </p>
    );
  }
  const since = Math.max(0, (tick - fetchedAt) / 1000);
  const behind = lag.lagSeconds + since;
  const late = lag.lagSeconds > 60;
  return (
    <p className={late ? "lag warn" : "lag"} data-testid="projection-lag" title={lag.appliedUpTo ? `Includes events recorded up to ${lag.appliedUpTo.toLocaleString()}` : undefined}>
      As of {formatLag(behind)} ago{late ? ` — ${formatLag(lag.lagSeconds)} behind the event log` : ""}
    </p>
  );
}
