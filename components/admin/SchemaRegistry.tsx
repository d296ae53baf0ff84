"use client";
// The event schema registry: each event type's current version, its JSON Schema, the upcasters
// from older versions, how many stored events are at each version, and a synthetic example.
import { useQuery } from "@tanstack/react-query";
import { EmptyState, ErrorState, Loading } from "../States";
import { useTRPC } from "../trpc";

export function SchemaRegistry() {
  const trpc = useTRPC();
  const registry = useQuery(trpc.observability.schemaRegistry.queryOptions(undefined, { refetchInterval: 60_000 }));
  if (registry.isPending) return <Loading label="Loading the event schemas" lines={["30%", "60%", "45%", "60%"]} />;
  if (registry.isError) {
    return <ErrorState onRetry={() => void registry.refetch()}>Could not load the event schemas: {registry.error.message}</ErrorState>;
  }
  const { types, countedAt } = registry.data;
  if (types.length === 0) return <EmptyState>No event types are registered.</EmptyState>;
  return (
    <section aria-label="Event types" data-testid="schema-registry">
      <table className="data">
        <thead>
          <tr>
            <th scope="col">Event type</th>
            <th scope="col">Current version</th>
            <th scope="col">Upcasters</th>
            <th scope="col">Stored events by version</th>
          </tr>
        </thead>
        <tbody>
          {types.map((t) => (
            <tr key={t.type} data-testid={`schema-row-${t.type}`}>
              <td>
                <a href={`#schema-${t.type}`} className="mono">
                  {t.type}
                </a>
              </td>
              <td>
                <span className="badge info">v{t.version}</span>
              </td>
              <td>{t.upcasters.length === 0 ? <span className="muted">none</span> : t.upcasters.map((u) => `v${u.from} → v${u.to}`).join(", ")}</td>
              <td>
                {t.stored.length === 0 ? (
                  <span className="muted">none yet</span>
                ) : (
                  t.stored.map((s) => (
                    <span key={s.version} className={`badge ${s.version === t.version ? "ok" : "warn"}`}>
                      v{s.version}: {s.count.toLocaleString("en-US")}
                    </span>
                  ))
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <p className="muted">Counts as of {new Date(countedAt).toLocaleTimeString("en-GB")} (recounted at most every 30 s).</p>
      {types.map((t) => (
        <article key={t.type} id={`schema-${t.type}`} className="panel schema-entry" data-testid={`schema-${t.type}`}>
          <h2>
            <span className="mono">{t.type}</span> <span className="badge info">v{t.version}</span>
          </h2>
          {t.upcasters.length > 0 ? (
            <ul className="schema-upcasters">
              {t.upcasters.map((u) => (
                <li key={u.from}>
                  <strong>
                    v{u.from} → v{u.to}
                  </strong>
                  {u.note ? `: ${u.note}` : ""}
                </li>
              ))}
            </ul>
          ) : (
            <p className="muted">Never changed: every stored event is at v1.</p>
          )}
          <div className="schema-columns">
            <details open={false}>
              <summary>JSON Schema</summary>
              <pre className="mono schema-json">{t.jsonSchema}</pre>
            </details>
            <details>
              <summary>Example payload (synthetic)</summary>
              <pre className="mono schema-json">{t.example ?? "none"}</pre>
            </details>
          </div>
        </article>
      ))}
    </section>
  );
}
