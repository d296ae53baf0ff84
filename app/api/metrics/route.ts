// Prometheus scrape endpoint: GET with Authorization: Bearer $METRICS_TOKEN.
import { getDatabase } from "@/server/db/client";
import { env } from "@/server/db/env";
import { metricsRouteHandler } from "@/server/metrics/expose";

export const dynamic = "force-dynamic";

export const GET = metricsRouteHandler({
  token: () => env().METRICS_TOKEN,
  db: async () => (await getDatabase()).prisma,
});
