import type { Metadata } from "next";
import { AdminNav } from "@/components/admin/AdminNav";
import { SchemaRegistry } from "@/components/admin/SchemaRegistry";

export const metadata: Metadata = { title: "Event schemas · Admin" };

export default function SchemasPage() {
  return (
    <main id="main" tabIndex={-1} className="page">
      <AdminNav />
      <h1>Event schemas</h1>
      <p className="subtitle">
        Every event type the store holds: its current schema version, the schema new events must match, the upcasters that read older
        versions, and how many stored events there are at each version.
      </p>
      <SchemaRegistry />
    </main>
  );
}
