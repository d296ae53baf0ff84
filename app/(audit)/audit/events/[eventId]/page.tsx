import type { Metadata } from "next";
import { AuditShell } from "@/components/audit/AuditShell";
import { EventDetail } from "@/components/audit/EventDetail";

export const metadata: Metadata = { title: "Audit · event" };

export default async function EventPage({ params }: { params: Promise<{ eventId: string }> }) {
  const { eventId } = await params;
  return (
    <AuditShell>
      <EventDetail key={eventId} eventId={eventId} />
    </AuditShell>
  );
}
