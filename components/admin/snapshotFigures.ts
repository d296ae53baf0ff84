// What the Snapshots panel makes of the figures and of a check, apart from React so that it can be
// tested: per aggregate type totals, and the type a discard form is about.
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
