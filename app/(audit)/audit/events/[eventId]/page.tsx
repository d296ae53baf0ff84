import type { Metadata } from "next";
import { notFound } from "next/navigation";
import { isUuid } from "@/shared/ids";
import { AuditShell } from "@/components/audit/AuditShell";
import { EventDetail } from "@/components/audit/EventDetail";

export const metadata: Metadata = { title: "Audit · event" };

export default async function EventPage({ params }: { params: Promise<{ eventId: string }> }) {
  const { eventId } = await params;
  // A mistyped address is a page that does not exist, not a validation message.
  if (!isUuid(eventId)) notFound();
  return (
    <AuditShell>
      <EventDetail key={eventId} eventId={eventId} />
    </AuditShell>
  );
}
