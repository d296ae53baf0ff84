// Audit extracts for download: GET /api/audit/export?view=events|timeline|access|review&format=csv|ndjson|fhir
// plus the view's filters (server/audit/export.ts). Streamed page by page; compliance only.
import { env } from "@/server/db/env";
import { createContext } from "@/server/api/context";
import { logDatabaseUnavailable, logServerFault } from "@/server/api/faults";
import { databaseUnavailableMessage, isDatabaseUnavailable, NotFoundError } from "@/server/errors";
import { exportRequestFrom, startExport, toReadableStream } from "@/server/audit/export";
import { earlierPublicKeys, resolveSigningKey } from "@/server/audit/signingKey";
import { withoutHead } from "@/server/routeMethods";

export const dynamic = "force-dynamic";

// A GET records the extract (audit_exports, the access log of what it holds): a HEAD, whose
// answer carries no extract, is refused (405) instead of run as the GET.
export const { HEAD, OPTIONS } = withoutHead(["GET"]);

const text = (status: number, message: string) => new Response(message, { status, headers: { "content-type": "text/plain; charset=utf-8" } });

export async function GET(request: Request): Promise<Response> {
  try {
    return await exportResponse(request);
  } catch (error) {
    // The database unreachable before the first byte (the session, the export's record): 503, as
    // the API answers it, not Next's bare 500. A failure mid-stream ends the download instead.
    if (!isDatabaseUnavailable(error)) throw error;
    logDatabaseUnavailable({ procedure: "audit.export", correlationId: null, error });
    return new Response(databaseUnavailableMessage(error), { status: 503, headers: { "content-type": "text/plain; charset=utf-8", "retry-after": "5" } });
  }
}

async function exportResponse(request: Request): Promise<Response> {
  // A download is a read with a side effect (it is recorded): never on another site's behalf.
  if (request.headers.get("sec-fetch-site") === "cross-site") return text(403, "Refused as a possible cross-site request.");
  const ctx = await createContext({ headers: request.headers });
  if (!ctx.user) return text(401, "Sign in first.");
  if (!ctx.user.roles.includes("compliance")) return text(403, "Audit extracts are for compliance officers.");
  const parsed = exportRequestFrom(new URL(request.url).searchParams);
  if (!parsed.success) return text(400, parsed.error.issues.map((i) => `${i.path.join(".") || "query"}: ${i.message}`).join("\n"));
  // The key that signs the log's seals signs the extract too (none in production without AUDIT_SIGNING_KEY).
  const signingKey = resolveSigningKey(env());
  const user = ctx.user;
  let started: Awaited<ReturnType<typeof startExport>>;
  try {
    started = await startExport({ ...ctx, user }, parsed.data, { signingKey, earlierPublicKeys: earlierPublicKeys(env()) });
  } catch (error) {
    // A filter naming a patient or user that does not exist: 404 with the message audit.* gives.
    if (error instanceof NotFoundError) return text(404, error.message);
    throw error;
  }
  const body = toReadableStream(started.chunks, (error) => logServerFault({ procedure: "audit.export", correlationId: ctx.correlationId, error }));
  return new Response(body, {
    headers: {
      "content-type": started.contentType,
      "content-disposition": `attachment; filename="${started.filename}"`,
      "cache-control": "no-store",
      "x-audit-export-id": started.exportId,
      "x-correlation-id": ctx.correlationId,
      ...(started.seal ? { "x-audit-seal": `${started.seal.seq};to=${started.seal.to};chain=${started.seal.chainHash}` } : {}),
    },
  });
}
