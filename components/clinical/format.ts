// Display helpers of the clinical screens only: ages, priority badges and names. The rest
// (dates, labels, status badges, values) is in components/format.ts.

/** Age from an ISO date of birth: years, or months / days for infants. */
export function ageFrom(dateOfBirth: string, now: Date): string {
  const [y, m, d] = dateOfBirth.split("-").map(Number);
  if (!y || !m || !d) return "";
  let years = now.getFullYear() - y;
  let months = now.getMonth() + 1 - m;
  if (now.getDate() < d) months -= 1;
  if (months < 0) {
    years -= 1;
    months += 12;
  }
  if (years < 0) return "";
  if (years >= 2) return `${years} y`;
  const totalMonths = years * 12 + months;
  if (totalMonths >= 1) return `${totalMonths} mo`;
  const days = Math.floor((now.getTime() - new Date(y, m - 1, d).getTime()) / 86_400_000);
  return `${Math.max(days, 0)} d`;
}

export function priorityBadgeClass(priority: string): string {
  if (priority === "stat") return "badge bad";
  if (priority === "urgent") return "badge warn";
  return "badge";
}

export const fullName = (p: { givenName: string; familyName: string }) => [p.givenName, p.familyName].filter(Boolean).join(" ");
export const listName = (p: { givenName: string; familyName: string }) => (p.givenName ? `${p.familyName}, ${p.givenName}` : p.familyName);
