// The projections that run on their own, apart from the commands that write their events: the
// runner keeps each one's checkpoint, and a rebuild can replay any of them into shadow tables.
import { census } from "./census";
import { orderTurnaround } from "./orderTurnaround";
import type { Projection } from "./types";
import { userActivity } from "./userActivity";

export const asyncProjections: readonly Projection[] = [orderTurnaround, userActivity, census];
