// An enrolment link as its user opens it: the console's /enrol page with the token in the URL
// fragment, which a browser never sends to a server (so no proxy or access log holds it). The
// admin screen and `npm run users:create -- --enrol` both hand out links of this one form.
export function enrolmentUrl(origin: string, token: string): string {
  return `${origin.replace(/\/+$/, "")}/enrol#${token}`;
}
