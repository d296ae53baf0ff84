// Where serve.ts and the tRPC handler it serves without Next's router (direct.ts) meet: constants
// only, so that serve.ts can name them without loading any module of the app (direct.ts says why).

/** Where serveTrpc is offered to the server entry (globalThis, under this key). */
export const directTrpcKey = Symbol.for("emr.directTrpc");
/** Where the server entry waits for it (a function that takes the handler). */
export const directTrpcWaitingKey = Symbol.for("emr.directTrpc.waiting");
/** The requests the server entry hands to it. */
export const TRPC_PREFIX = "/api/trpc/";
