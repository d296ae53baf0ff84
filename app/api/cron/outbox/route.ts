// One outbox drain per call, for cron services: POST (or GET) with Authorization: Bearer $CRON_SECRET.
import { getDatabase } from "@/server/db/client";
import { env } from "@/server/db/env";
import { storeFor } from "@/server/api/context";
import { drainOutbox } from "@/server/workers/outbox";
import { outboxCronHandler } from "@/server/workers/cron";
import { withoutHead } from "@/server/routeMethods";
import { OUTBOX_BATCH_SIZE, OUTBOX_MAX_ATTEMPTS, outboxHandlers, processBus } from "@/server/workers/config";

export const dynamic = "force-dynamic";

const handler = outboxCronHandler({
  secret: () => env().CRON_SECRET,
  drain: async () => {
    const store = storeFor(await getDatabase());
    return drainOutbox({ store, handlers: outboxHandlers(store), bus: processBus() }, { batchSize: OUTBOX_BATCH_SIZE, maxAttempts: OUTBOX_MAX_ATTEMPTS });
  },
});

export { handler as GET, handler as POST };
// A GET runs a pass: a HEAD (no answer read) does not.
export const { HEAD, OPTIONS } = withoutHead(["GET", "POST"]);
