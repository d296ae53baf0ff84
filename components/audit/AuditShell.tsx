import type { ReactNode } from "react";
import { AuditNav } from "./AuditNav";

/** Every audit page: the page frame and the section's tabs. */
export function AuditShell({ children }: { children: ReactNode }) {
  return (
    <main id="main" tabIndex={-1} className="page">
      <AuditNav />
      {children}
    </main>
  );
}
