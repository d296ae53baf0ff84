// One pass of the projection runner per call, for cron services: POST (or GET) with
// Authorization: Bearer $CRON_SECRET. Answers what each projection applied.
import { getDatabase } from "@/server/db/client";
import { env } from "@/server/db/env";
import { outboxCronHandler } from "@/server/workers/cron";
import { projectionsCronPass } from "@/server/workers/projections";
import { withoutHead } from "@/server/routeMethods";

export const dynamic = "force-dynamic";

const handler = outboxCronHandler({
  name: "projections",
  secret: () => env().CRON_SECRET,
  drain: async () => projectionsCronPass(await getDatabase()),
});

export { handler as GET, handler as POST };
// A GET runs a pass: a HEAD (no answer read) does not.
export const { HEAD, OPTIONS } = withoutHead(["GET", "POST"]);
