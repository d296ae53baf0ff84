// Pieces of the consoles' data tables: the header row and the paged footer.
import type { ReactNode } from "react";

/** The column headers; `actions` adds the last, visually unnamed column that holds row buttons. */
export function TableHead({ columns, actions }: { columns: readonly ReactNode[]; actions?: boolean }) {
  return (
    <thead>
      <tr>
        {columns.map((column, i) => (
          <th key={i} scope="col">
            {column}
          </th>
        ))}
        {actions ? (
          <th scope="col">
            <span className="sr-only">Actions</span>
          </th>
        ) : null}
      </tr>
    </thead>
  );
}

/**
 * Under a paged table: "Load more" (or `label`) while there are more pages (disabled while one
 * loads), and `error`, the reason the latest page or refresh failed, while there is one.
 */
export function LoadMore({
  hasMore,
  loading,
  onMore,
  error,
  label = "Load more",
}: {
  hasMore: boolean;
  loading: boolean;
  onMore: () => void;
  error?: string | null;
  label?: string;
}) {
  return (
    <>
      {hasMore ? (
        <div className="load-more">
          <button type="button" className="secondary" onClick={onMore} disabled={loading}>
            {loading ? "Loading…" : label}
          </button>
        </div>
      ) : null}
      {error ? (
        <p className="error-text" role="alert">
          Could not load: {error}
        </p>
      ) : null}
    </>
  );
}
