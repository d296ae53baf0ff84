// Percentiles from the raw samples (nearest rank, no interpolation, no histogram buckets).

export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) throw new Error("percentile of no samples");
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

export const now = (): number => performance.now();

/** Milliseconds `fn` took. */
export async function timed(fn: () => Promise<unknown>): Promise<number> {
  const start = now();
  await fn();
  return now() - start;
}

/** Runs `fn` and returns the process's peak resident memory meanwhile, and its rise over the start, in MB. */
export async function rssDuring<T>(fn: () => Promise<T>): Promise<{ result: T; peakMb: number; growthMb: number }> {
  const start = process.memoryUsage().rss;
  let peak = start;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 5);
  try {
    const result = await fn();
    peak = Math.max(peak, process.memoryUsage().rss);
    return { result, peakMb: peak / 1024 / 1024, growthMb: (peak - start) / 1024 / 1024 };
  } finally {
    clearInterval(timer);
  }
}

/** Runs `count` async loops side by side; resolves with the wall time in ms. */
export async function side(count: number, loop: (index: number) => Promise<void>): Promise<number> {
  const start = now();
  await Promise.all(Array.from({ length: count }, (_, i) => loop(i)));
  return now() - start;
}

/** The contenders' order in round `round`: rotated, so none always runs first or last. */
export function rotated<T>(items: readonly T[], round: number): T[] {
  const k = round % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

/** Rounds a figure for display and storage: 3 significant digits, integers kept whole. */
export function round3(value: number): number {
  if (!Number.isFinite(value) || value === 0) return value;
  if (Math.abs(value) >= 100) return Math.round(value);
  const digits = 2 - Math.floor(Math.log10(Math.abs(value)));
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
