"use client";
// Download links for the filtered view on screen: CSV, NDJSON, FHIR R4 AuditEvent Bundle. The
// server streams the extract (app/api/audit/export) and records who exported which filter.
type FilterValue = string | number | Date | readonly string[] | null | undefined;

/** The extract's URL for a view and its filters (instants as ISO, lists as repeated keys). */
export function exportHref(view: "events" | "timeline" | "access" | "review", format: "csv" | "ndjson" | "fhir", filter: Record<string, FilterValue>): string {
  const params = new URLSearchParams({ view, format });
  for (const [key, value] of Object.entries(filter)) {
    if (value === undefined || value === null || value === "") continue;
    if (Array.isArray(value)) for (const v of value) params.append(key, v);
    else params.set(key, value instanceof Date ? value.toISOString() : String(value));
  }
  return `/api/audit/export?${params.toString()}`;
}

const formats = [
  { format: "csv", label: "CSV" },
  { format: "ndjson", label: "NDJSON" },
  { format: "fhir", label: "FHIR AuditEvents" },
] as const;

export function ExportMenu({ view, filter, label = "Export" }: { view: Parameters<typeof exportHref>[0]; filter: Record<string, FilterValue>; label?: string }) {
  return (
    <span className="export-menu" role="group" aria-label={`${label} this view`} data-testid={`export-${view}`}>
      <span className="muted small">{label}:</span>
      {formats.map((f) => (
        <a key={f.format} className="button secondary small" href={exportHref(view, f.format, filter)} download>
          {f.label}
        </a>
      ))}
    </span>
  );
}
