// Reading a result's abnormal flags. Results are free-form JSON (formats vary by lab), and flags
// follow HL7 v2's abnormal flags (OBX-8): N normal, H / L abnormal high / low, HH / LL critical
// high / low, A / AA abnormal / critical abnormal. A flag sits on the whole result
// ({ value, unit, flag }) or on each named value ({ Potassium: { value, unit, flag } }).
import type { ResultData } from "../../server/domain/order/events";
import { resultFlags } from "./orders";

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

/** Flags that mean abnormal but not critical. */
const abnormalFlags: readonly string[] = ["H", "L", "A"];

const flagTexts: Record<string, string> = Object.fromEntries(resultFlags.filter((f) => f.code).map((f) => [f.code, f.text.toLowerCase()]));

/** "HH" -> "critical high", as the status form offers it; a flag the console does not know stays as the lab sent it. */
export function flagText(flag: string): string {
  return flagTexts[flag.trim().toUpperCase()] ?? flag;
}

export type ResultSeverity = "critical" | "abnormal" | "normal";

/**
 * The worst flag in a result: critical when any value (or the whole result) is flagged HH, LL or
 * AA, abnormal for H, L or A, else normal (unflagged values included: the lab said nothing is wrong).
 */
export function resultSeverity(result: unknown): ResultSeverity {
  if (!isRecord(result)) return "normal";
  const flags = [result, ...Object.values(result)]
    .filter(isRecord)
    .map((entry) => (typeof entry.flag === "string" ? entry.flag.trim().toUpperCase() : ""));
  if (flags.some((f) => criticalFlags.includes(f))) return "critical";
  if (flags.some((f) => abnormalFlags.includes(f))) return "abnormal";
  return "normal";
}
