// Whether sealing keeps up: the words the compliance console shows when it does not. Pure, so the
// console and its tests read the same rule: late when the oldest unsealed event waited longer than
// `lateAfterSeconds`, or when no sealer reported a pass within it (not running, or stopped).

export type SealerPassOutcome = "sealed" | "idle" | "refused" | "failed";

export type SealerPass = {
  processId: string;
  lastPassAt: Date;
  /** Seconds since lastPassAt, by the database's clock (the one that stamped it). */
  ageSeconds: number;
  outcome: SealerPassOutcome;
  sealedEvents: number;
  /** refused: why it would not seal; failed: the error's class, code and first line (never a value). */
  reason: string | null;
  lastSealedAt: Date | null;
};

export type SealingFigures = {
  backlog: { events: number; oldestSeconds: number };
  lateAfterSeconds: number;
  /** Newest first. */
  sealers: readonly SealerPass[];
};

/** One pass in words: "sealed 12 events", "nothing to seal", "refused: no signing key configured". */
export function passText(pass: Pick<SealerPass, "outcome" | "sealedEvents" | "reason">): string {
  switch (pass.outcome) {
    case "sealed":
      return `sealed ${pass.sealedEvents === 1 ? "1 event" : `${pass.sealedEvents.toLocaleString("en")} events`}`;
    case "idle":
      return "nothing to seal";
    case "refused":
      return `refused: ${pass.reason ?? "no reason given"}`;
    case "failed":
      return `failed: ${pass.reason ?? "no reason given"}`;
    default: {
      const never: never = pass.outcome;
      return String(never);
    }
  }
}

/** A duration for people: "45s", "12m", "3h 5m", "2d 4h". */
export function ageText(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h}h ${m % 60}m` : `${h}h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d}d ${h % 24}h` : `${d}d`;
}

/**
 * What is wrong with sealing now, in words (empty: it keeps up). Several processes may report: a
 * console without a signing key refuses while a worker with one seals, so a refusal or failure
 * is the reason only when no process sealed (or found nothing to seal) within the window; beside
 * a sealer that keeps up it is named with its process, as a configuration to look at.
 */
export function sealingWarnings(figures: SealingFigures): string[] {
  const warnings: string[] = [];
  const late = figures.lateAfterSeconds;
  const newest = figures.sealers[0];
  const troubled = (p: SealerPass) => p.outcome === "refused" || p.outcome === "failed";
  const keepingUp = figures.sealers.some((p) => !troubled(p) && p.ageSeconds <= late);
  // The newest pass that did not seal says why, unless another process keeps sealing.
  const why = !keepingUp && newest && troubled(newest) ? passText(newest) : null;
  if (figures.backlog.events > 0 && figures.backlog.oldestSeconds > late) {
    warnings.push(
      `Sealing is behind: the oldest unsealed event has waited ${ageText(figures.backlog.oldestSeconds)} (more than ${ageText(late)})` +
        (why ? `; the last sealer pass ${why}` : ""),
    );
  }
  if (!newest) {
    // A process that would seal without a signing key records its refusal: none at all is no process.
    warnings.push("No sealer has reported a pass in the last day: no process runs the audit sealer (the console's background work, or npm run worker)");
  } else if (newest.ageSeconds > late) {
    const did = why ?? (newest.outcome === "idle" ? "found nothing to seal" : passText(newest));
    warnings.push(`No sealer pass in the last ${ageText(late)}: the last one was ${ageText(newest.ageSeconds)} ago and ${did}`);
  } else if (why && !warnings.some((w) => w.includes(why))) {
    warnings.push(`The last sealer pass ${why}`);
  } else if (keepingUp) {
    for (const p of figures.sealers.filter((q) => troubled(q) && q.ageSeconds <= late)) {
      warnings.push(`Process ${p.processId} ${passText(p)} (another process keeps sealing)`);
    }
  }
  return warnings;
}
