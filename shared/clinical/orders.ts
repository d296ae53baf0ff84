// Order value lists: kinds, priorities, statuses. Pure data, shared by the order decider and the
// console's forms and filters.

export const orderKinds = ["lab", "imaging", "medication", "procedure", "referral"] as const;
export type OrderKind = (typeof orderKinds)[number];

export const orderPriorities = ["routine", "urgent", "stat"] as const;
export type OrderPriority = (typeof orderPriorities)[number];

export const orderStatuses = ["placed", "on_hold", "in_progress", "completed", "cancelled"] as const;
export type OrderStatus = (typeof orderStatuses)[number];

/** Kinds whose completion carries the result itself (values, report text). */
export const resultingKinds: readonly OrderKind[] = ["lab", "imaging"];
