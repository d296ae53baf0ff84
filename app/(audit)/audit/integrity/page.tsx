import type { Metadata } from "next";
import { AuditShell } from "@/components/audit/AuditShell";
import { IntegrityPanel } from "@/components/audit/IntegrityPanel";

export const metadata: Metadata = { title: "Audit · integrity" };

export default function IntegrityPage() {
  return (
    <AuditShell>
      <h1>Integrity</h1>
      <p className="subtitle">
        Every event carries a hash chained to its stream; signed seals chain the whole log in commit order. Verify recomputes all of it, as{" "}
        <code>npm run audit:verify</code> does, and names the first event or seal that does not match.
      </p>
      <IntegrityPanel />
    </AuditShell>
  );
}
