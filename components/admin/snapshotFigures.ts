// What the Snapshots panel makes of the figures and of a check, apart from React so that it can be
// tested: per aggregate type totals, the type a discard form is about, a check's summary, and what
// writing the historic snapshots did.
import { counted } from "../format";

export type Which = "stale" | "all";
export type TypeFigures = { aggregateType: string; stale: number; staleBytes: number; total: number; foldedWith: number | null };
type Group = { aggregateType: string; used: boolean; snapshots: number; bytes: number };
type Folded = { aggregateType: string; stateVersion: number };

/** The groups (per type and state version) summed per aggregate type, in the groups' order. */
export function snapshotTypes(groups: readonly Group[], foldedWith: readonly Folded[]): TypeFigures[] {
  const types: TypeFigures[] = [];
  for (const g of groups) {
    let t = types.find((x) => x.aggregateType === g.aggregateType);
    if (!t) {
      t = { aggregateType: g.aggregateType, stale: 0, staleBytes: 0, total: 0, foldedWith: foldedWith.find((f) => f.aggregateType === g.aggregateType)?.stateVersion ?? null };
      types.push(t);
    }
    t.total += g.snapshots;
    if (!g.used) {
      t.stale += g.snapshots;
      t.staleBytes += g.bytes;
    }
  }
  return types;
}

/**
 * The figures of the type the admin chose, or null when it has no snapshots any more (another
 * admin discarded them since the form opened, and the figures were fetched again): never another
 * type in its place, which the form would then offer to discard under the reason the admin typed
 * for the first one.
 */
export function chosenType(types: readonly TypeFigures[], aggregateType: string): TypeFigures | null {
  return types.find((t) => t.aggregateType === aggregateType) ?? null;
}

type Checked = { checked: number; unopenable: number; mismatches: readonly unknown[] };

/**
 * A check's summary: an error when some snapshots differ from their events; a warning when some
 * could not be opened (loads fold their events instead, so nothing to compare: an erased patient's,
 * or one altered, moved, or sealed before snapshots were bound to their stream and version), which
 * must not read as every snapshot checked being right.
 */
export function checkSummary(results: readonly Checked[]): { tone: "error" | "warn" | "ok"; text: string } {
  const bad = results.reduce((n, r) => n + r.mismatches.length, 0);
  const unopenable = results.reduce((n, r) => n + r.unopenable, 0);
  if (bad > 0) {
    return {
      tone: "error",
      text: `${counted(bad, "snapshot")} not what a fold of the events gives: a fold changed without a state version bump, or a snapshot written wrong. Loads trust them: discard this type's snapshots and bump its state version.`,
    };
  }
  if (unopenable > 0) {
    const compared = results.reduce((n, r) => n + r.checked - r.unopenable, 0);
    return {
      tone: "warn",
      text:
        `${counted(unopenable, "snapshot")} could not be opened and ${unopenable === 1 ? "was" : "were"} not compared: sealed under an erased patient's key, or not sealed for ${unopenable === 1 ? "its" : "their"} stream and version ` +
        `(altered, moved, or written before snapshots were bound to their place; loads fold the events instead). ` +
        (compared > 0 ? `The other ${counted(compared, "snapshot")} checked ${compared === 1 ? "is" : "are"} what a fold of ${compared === 1 ? "its" : "their"} events gives.` : "None could be compared."),
    };
  }
  return { tone: "ok", text: "Every snapshot checked is what a fold of its events gives." };
}

export type BackfillTotals = { streams: number; written: number; stillMissing: number; total: number };

/** What a finished or stopped run of "Write them" (historic snapshots) says. */
export function backfillSummary(run: BackfillTotals, stopped: boolean): string {
  const wrote = `${counted(run.written, "historic snapshot")} written for ${counted(run.streams, "record")}`;
  const left =
    run.stillMissing > 0
      ? ` ${counted(run.stillMissing, "record")} still ${run.stillMissing === 1 ? "lacks" : "lack"} some: a snapshot of an older state version holds the version; discard the stale snapshots, then write them again.`
      : "";
  return stopped ? `Stopped: ${wrote} so far; write them again to carry on.${left}` : `Done: ${wrote}.${left}`;
}
