/** A wait for a database connection longer than this is no longer a blip: health says "degraded". */
export const DEGRADED_WAIT_MS = 1_000;
