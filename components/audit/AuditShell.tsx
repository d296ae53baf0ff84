import type { ReactNode } from "react";
import { AuditNav } from "./AuditNav";

/** Every audit page: the page frame and the section's tabs. */
export function AuditShell({ children }: { children: ReactNode }) {
  return (
    <main className="page">
      <AuditNav />
      {children}
    </main>
  );
}
