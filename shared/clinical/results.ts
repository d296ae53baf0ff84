// Reading a result's abnormal flags. Results are free-form JSON (formats vary by lab), and flags
// follow HL7 v2's abnormal flags (OBX-8): N normal, H / L abnormal high / low, HH / LL critical
// high / low, A / AA abnormal / critical abnormal. A flag sits on the whole result
// ({ value, unit, flag }) or on each named value ({ Potassium: { value, unit, flag } }).
import type { ResultData } from "../../server/domain/order/events";

/** Flags that mean a critical (panic) value: the ordering clinician must be told now. */
export const criticalFlags: readonly string[] = ["HH", "LL", "AA"];

export type CriticalFinding = {
  /** The value's name in the result, or "result" when the flag is on the whole result. */
  name: string;
  value: number | string | null;
  unit: string | null;
  flag: string;
};

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

function findingOf(name: string, entry: Record<string, unknown>): CriticalFinding | null {
  const flag = typeof entry.flag === "string" ? entry.flag.trim().toUpperCase() : null;
  if (!flag || !criticalFlags.includes(flag)) return null;
  const value = typeof entry.value === "number" || typeof entry.value === "string" ? entry.value : null;
  return { name, value, unit: typeof entry.unit === "string" ? entry.unit : null, flag };
}

/** The result's critical values, in the result's own order; empty when none is flagged critical. */
export function criticalFindings(result: ResultData | null | undefined): CriticalFinding[] {
  if (!result) return [];
  const found: CriticalFinding[] = [];
  const whole = findingOf("result", result);
  if (whole) found.push(whole);
  for (const [name, entry] of Object.entries(result)) {
    if (!isRecord(entry)) continue;
    const finding = findingOf(name, entry);
    if (finding) found.push(finding);
  }
  return found;
}
