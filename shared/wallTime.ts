// Wall-clock times typed into datetime-local inputs, read in this runtime's time zone (the
// browser's, on the console). On the night the clocks go forward an hour of wall times never
// happens; on the night they go back an hour happens twice. `new Date(value)` hides both: it
// moves a skipped time forward and picks the first of a repeated one, without saying so.

const pattern = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d)(?::(\d\d)(?:\.(\d{1,3}))?)?$/;

/** The wall time of an instant in this zone, as milliseconds of a UTC calendar (for comparing). */
function wallOf(at: number): number {
  const d = new Date(at);
  return Date.UTC(d.getFullYear(), d.getMonth(), d.getDate(), d.getHours(), d.getMinutes(), d.getSeconds(), d.getMilliseconds());
}

/**
 * Every instant whose wall time in this zone is `value` ("2026-11-01T01:30"), earliest first:
 * none when the clocks skip it, two when they repeat it, one otherwise. Undefined when `value`
 * is not a datetime-local value.
 */
export function instantsAtWallTime(value: string): Date[] | undefined {
  const m = pattern.exec(value);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, ms] = m;
  const wall = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s ?? 0), Number((ms ?? "0").padEnd(3, "0")));
  // Date.UTC rolls 30 February or 25:00 over into the next day: not a wall time.
  const check = new Date(wall);
  if (Number.isNaN(wall) || check.getUTCMonth() !== Number(mo) - 1 || check.getUTCDate() !== Number(d) || check.getUTCHours() !== Number(h) || check.getUTCMinutes() !== Number(mi)) return undefined;
  if (Number(s ?? 0) > 59) return undefined;
  // The zone's offsets around that wall time: a day either side covers any change of clocks.
  const offsets = new Set([-86_400_000, 0, 86_400_000].map((shift) => wallOf(wall + shift) - (wall + shift)));
  const found = [...offsets].map((offset) => wall - offset).filter((at) => wallOf(at) === wall);
  return [...new Set(found)].sort((a, b) => a - b).map((at) => new Date(at));
}

/** The zone's short name at an instant ("EDT", "GMT+5:30"), for saying which of two it is. */
export function zoneNameAt(at: Date): string {
  return new Intl.DateTimeFormat("en-US", { timeZoneName: "short" }).formatToParts(at).find((p) => p.type === "timeZoneName")?.value ?? "";
}
