/** A process clock further off the database's than this is named on the admin page and in the log. */
export const CLOCK_SKEW_WARN_SECONDS = 2;
