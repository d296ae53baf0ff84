// The header in which a console page names the user it was rendered for: the browser's client
// (components/trpc.tsx) sends it, the API (server/api/trpc.ts) refuses a request whose session is
// now someone else's (signed in in another tab).
export const PAGE_USER_HEADER = "x-page-user";
