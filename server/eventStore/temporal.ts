// Bitemporal loads: a stream's state at a moment on two time axes. "As recorded at" R is what the
// system had stored by R (a version prefix, folded in version order, from a snapshot). "As it
// happened by" T is every fact that occurred by T, whenever it was entered (late entries and
// migrated history included), folded in clinical order (occurred_at, then version). Both at once
// ("what did we know on the 1st about the 15th") folds what was recorded by R and occurred by T.
// Every fold reads the stream page by page from a cursor; none holds the whole stream.
import { foldPageSize, loadAtVersion } from "./aggregate";
import type { Store } from "./db";
import { readStream, readStreamByOccurrence, streamVersion, versionRecordedBy } from "./read";
import { defaultHistoricSnapshotEvery, saveSnapshot, snapshotAtOrBelow } from "./snapshots";
import { openState, preparePhi, sealState } from "./protect";
import type { Decider, DomainEvent, StoredEvent } from "./types";

/** A point on the two axes; an axis left out is "now" (no bound on it). */
export type Moment = { recordedAt?: Date; happenedBy?: Date };

/** Called for every event a fold applies, with the state before and after it. */
export type FoldObserver<S> = (event: StoredEvent, before: S, after: S) => void;

export type MomentLoad<S> = {
  state: S;
  /** Events folded (0: nothing of the stream existed at that moment). */
  eventsApplied: number;
  /** The highest version among them (0 when none). */
  lastVersion: number;
  /** The stream's current version. */
  currentVersion: number;
  fromSnapshot: number | null;
};

/** Whether a stored event is part of the record at a moment (millisecond precision, both ends inclusive). */
export function inMoment(event: Pick<StoredEvent, "metadata">, moment: Moment): boolean {
  return (
    (!moment.recordedAt || event.metadata.recordedAt.getTime() <= moment.recordedAt.getTime()) &&
    (!moment.happenedBy || event.metadata.occurredAt.getTime() <= moment.happenedBy.getTime())
  );
}

/**
 * The stream's state at a moment. As recorded (no `happenedBy`): the version prefix recorded by
 * then, from the newest snapshot at or below it (sparse historic snapshots keep old versions
 * cheap). With `happenedBy`: the events that occurred by then in clinical order, paged over the
 * (stream_id, occurred_at, version) index. `onEvent` sees every event applied; with it, a
 * snapshot is used only at or below `snapshotAtMost` (events before it are not observed).
 */
export async function loadAtMoment<C, E extends DomainEvent, S>(
  store: Store,
  streamId: string,
  decider: Decider<C, E, S>,
  moment: Moment,
  options: { onEvent?: FoldObserver<S>; snapshotAtMost?: number } = {},
): Promise<MomentLoad<S>> {
  const currentVersion = await streamVersion(store, streamId);
  const empty: MomentLoad<S> = { state: decider.initialState(), eventsApplied: 0, lastVersion: 0, currentVersion, fromSnapshot: null };
  if (currentVersion === 0) return empty;
  const evolve = (state: S, event: StoredEvent): S => {
    const next = decider.evolve(state, event as unknown as E);
    options.onEvent?.(event, state, next);
    return next;
  };

  if (!moment.happenedBy) {
    const target = moment.recordedAt ? await versionRecordedBy(store, streamId, moment.recordedAt) : currentVersion;
    if (target === 0) return empty;
    if (!options.onEvent) {
      const loaded = await loadAtVersion(store, streamId, decider, target);
      return { state: loaded.state, eventsApplied: loaded.version, lastVersion: loaded.version, currentVersion, fromSnapshot: loaded.fromSnapshot };
    }
    const snapshot = await snapshotAtOrBelow(
      store,
      streamId,
      { snapshotType: decider.aggregateType, stateVersion: decider.stateVersion },
      Math.min(target, options.snapshotAtMost ?? 0),
    );
    // A snapshot is sealed like the events (PHI); one sealed under an erased patient's key, or
    // not this stream's at this version, is only a cache: fold from the start instead.
    if (snapshot) await preparePhi(store, [snapshot.state]);
    const opened = snapshot ? await openState(store, { streamId, version: snapshot.version, stateVersion: decider.stateVersion }, decider.aggregateType, snapshot.state) : null;
    const from = opened === null ? null : snapshot;
    let state = from ? (opened as S) : decider.initialState();
    let version = from?.version ?? 0;
    while (version < target) {
      const page = await readStream(store, streamId, { fromVersion: version + 1, toVersion: target, maxCount: foldPageSize });
      if (page.length === 0) break;
      for (const event of page) state = evolve(state, event);
      version = page.at(-1)!.version;
    }
    return { state, eventsApplied: version, lastVersion: version, currentVersion, fromSnapshot: from?.version ?? null };
  }

  let state = decider.initialState();
  let eventsApplied = 0;
  let lastVersion = 0;
  let afterVersion: number | undefined;
  for (;;) {
    const page = await readStreamByOccurrence(store, streamId, {
      occurredBy: moment.happenedBy,
      recordedBy: moment.recordedAt,
      afterVersion,
      maxCount: foldPageSize,
    });
    for (const event of page) {
      state = evolve(state, event);
      eventsApplied += 1;
      lastVersion = Math.max(lastVersion, event.version);
    }
    if (page.length < foldPageSize) break;
    afterVersion = page.at(-1)!.version;
  }
  return { state, eventsApplied, lastVersion, currentVersion, fromSnapshot: null };
}

/**
 * Writes the historic snapshots of a stream that lacks them (one imported in bulk, or written
 * before sparse snapshots existed): one fold over the stream, page by page, saving the state at
 * every multiple of `every` that no snapshot holds yet (of any shape: a version holds one).
 * Returns how many were written (a snapshot another process writes at the same moment may be
 * counted, though only one is stored). Snapshots are a cache: re-running it changes no load's
 * result, and the stream's newest snapshots stay (an older version is saved here, not the newest).
 */
export async function writeHistoricSnapshots<C, E extends DomainEvent, S>(
  store: Store,
  streamId: string,
  decider: Decider<C, E, S>,
  every = defaultHistoricSnapshotEvery,
): Promise<number> {
  const held = new Set(
    (await store.sql<{ version: number }>("SELECT version FROM snapshots WHERE stream_id = $1 AND version % $2 = 0", [streamId, every])).map((r) => r.version),
  );
  let state = decider.initialState();
  let version = 0;
  let written = 0;
  for (;;) {
    const page = await readStream(store, streamId, { fromVersion: version + 1, maxCount: foldPageSize });
    for (const event of page) {
      state = decider.evolve(state, event as unknown as E);
      version = event.version;
      if (version % every === 0 && !held.has(version)) {
        const sealed = await sealState(store, { streamId, version, stateVersion: decider.stateVersion }, decider.aggregateType, state);
        const snapshot = { streamId, aggregateType: decider.aggregateType, snapshotType: decider.aggregateType, stateVersion: decider.stateVersion, version, state: sealed };
        await saveSnapshot(store.db, snapshot, undefined, every);
        written += 1;
      }
    }
    if (page.length < foldPageSize) return written;
  }
}

// ---- comparing two states --------------------------------------------------------------------

function canonicalJson(value: unknown): string {
  return JSON.stringify(value ?? null, (_key, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.keys(v as object).sort().map((k) => [k, (v as Record<string, unknown>)[k]]))
      : v,
  );
}

export const sameJson = (a: unknown, b: unknown): boolean => canonicalJson(a) === canonicalJson(b);

export type FieldChange = { field: string; change: "added" | "removed" | "changed"; before: unknown; after: unknown };

const absent = (v: unknown) => v === undefined || v === null;

/** The top-level fields whose values differ between two states (JSON equality, key order ignored). */
export function diffFields(before: unknown, after: unknown): FieldChange[] {
  const a = (before && typeof before === "object" ? before : {}) as Record<string, unknown>;
  const b = (after && typeof after === "object" ? after : {}) as Record<string, unknown>;
  const fields = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  return fields.flatMap((field): FieldChange[] => {
    if (sameJson(a[field], b[field])) return [];
    const change = absent(a[field]) ? "added" : absent(b[field]) ? "removed" : "changed";
    return [{ field, change, before: a[field] ?? null, after: b[field] ?? null }];
  });
}
