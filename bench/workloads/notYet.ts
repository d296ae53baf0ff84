// Rows whose capability has not landed yet. Each says what it waits for; when the capability
// exists, replace its entry with a module like the others (and the line tells you it is time).
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import type { Workload } from "../lib/types";

const present = (dir: string, pattern: RegExp) => {
  const path = join(process.cwd(), dir);
  return existsSync(path) && readdirSync(path).some((f) => pattern.test(f) && !f.includes(".test."));
};

function waiting(number: number, id: string, title: string, capability: string, landed: () => boolean): Workload {
  return {
    number,
    id,
    title,
    unavailable: () =>
      landed()
        ? `${capability} seems to exist now, but bench/workloads has no module for this row yet`
        : `waits for ${capability}`,
    run: async () => [],
  };
}

export const projectionRebuild = waiting(6, "projection-rebuild", "projection rebuild of a read model", "async projections (server/projections, rebuild)", () =>
  present("server/projections", /rebuild/i),
);
