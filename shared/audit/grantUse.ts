// What a break-the-glass grant was used for, in words: the review list shows it and the review
// export writes it, so both say the same. Pure code, no server imports: a component may use it.

export type GrantUseSummary = { views: number; changes: { eventType: string; count: number }[]; lastingCare: boolean };

/** "EncounterStarted" → "encounter started". */
export function eventTypeWords(eventType: string): string {
  return eventType.replace(/([a-z0-9])([A-Z])/g, "$1 $2").toLowerCase();
}

/** "opened the chart 3 times; changed: encounter started, order created ×2" (or "not used"). */
export function describeGrantUse(use: GrantUseSummary): string {
  const parts: string[] = [];
  if (use.views > 0) parts.push(use.views === 1 ? "opened the chart once" : `opened the chart ${use.views} times`);
  if (use.changes.length > 0) parts.push(`changed: ${use.changes.map((c) => (c.count === 1 ? eventTypeWords(c.eventType) : `${eventTypeWords(c.eventType)} ×${c.count}`)).join(", ")}`);
  const used = parts.length > 0 ? parts.join("; ") : "not used";
  return use.lastingCare ? `${used}; now in their care (an encounter or order of theirs): the chart stays open to them after the grant` : used;
}
