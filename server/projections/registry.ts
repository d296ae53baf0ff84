// Every projection the app has. Inline ones are written by commands and only rebuilt; async ones
// are applied by the runner (server/projections/runner.ts) and rebuilt the same way.
import { NotFoundError } from "../errors";
import { census } from "./census";
import { inlineProjections } from "./clinicalProjections";
import { orderTurnaround } from "./orderTurnaround";
import type { Projection } from "./types";
import { userActivity } from "./userActivity";

export { inlineProjections };

/** Applied by the runner from the log, in commit order. */
export const asyncProjections: readonly Projection[] = [orderTurnaround, userActivity, census];

export const allProjections: readonly Projection[] = [...inlineProjections, ...asyncProjections];

export const isInline = (projection: Projection) => inlineProjections.includes(projection);

export function projectionNamed(name: string, among: readonly Projection[] = allProjections): Projection {
  const found = among.find((p) => p.name === name);
  if (!found) throw new NotFoundError("projection", name);
  return found;
}
