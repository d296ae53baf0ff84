// The blocks a panel shows instead of (or beside) its data: loading placeholders, a failed load,
// nothing to show, and a dismissible confirmation. Shared by every console.
import type { CSSProperties, ReactNode } from "react";
import { DateTime } from "./DateTime";

/** A placeholder line: its width ("40%", 120), or its whole style ({ width, height, marginTop }). */
export type SkeletonLine = CSSProperties["width"] | CSSProperties;

/** Grey placeholder lines, for a container that says what is loading. */
export function SkeletonLines({ lines }: { lines: readonly SkeletonLine[] }) {
  return (
    <>
      {lines.map((line, i) => (
        <div key={i} className="skeleton" style={typeof line === "object" ? line : { width: line }} />
      ))}
    </>
  );
}

/** Something is loading: placeholder lines in a busy status region named by `label`. */
export function Loading({ label, lines, className }: { label: string; lines: readonly SkeletonLine[]; className?: string }) {
  return (
    <div role="status" aria-busy="true" aria-label={label} className={className}>
      <SkeletonLines lines={lines} />
    </div>
  );
}

/** A table-shaped placeholder while the first page of rows loads. */
export function SkeletonTable({ columns, rows, label }: { columns: number; rows: number; label: string }) {
  return (
    <div aria-busy="true" aria-label={label} role="status">
      <table className="data skeleton-table">
        <tbody>
          {Array.from({ length: rows }, (_, r) => (
            <tr key={r}>
              {Array.from({ length: columns }, (_, c) => (
                <td key={c}>
                  <div className="skeleton" style={{ width: `${50 + ((r * 7 + c * 13) % 40)}%` }} />
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** A load failed: the sentence is announced; "Try again" appears when `onRetry` is given. */
export function ErrorState({ children, onRetry }: { children: ReactNode; onRetry?: () => void }) {
  return (
    <div className="state error" role="alert">
      <p>{children}</p>
      {onRetry ? (
        <button type="button" className="secondary" onClick={onRetry}>
          Try again
        </button>
      ) : null}
    </div>
  );
}

/**
 * Nothing to show (yet). `role="status"` when its appearance should be announced; leave it out
 * where a live region nearby already says so (a search's result count).
 */
export function EmptyState({ children, testId, role }: { children: ReactNode; testId?: string; role?: "status" }) {
  return (
    <div className="state" role={role} data-testid={testId}>
      {children}
    </div>
  );
}

/** The confirmation of what the user just did, until dismissed or replaced. Nothing when `message` is null. */
export function Flash({ message, onDismiss }: { message: string | null; onDismiss: () => void }) {
  if (!message) return null;
  return (
    <div className="alert ok flash" role="status">
      <span>{message}</span>
      <button type="button" className="link" onClick={onDismiss} aria-label="Dismiss message">
        ×
      </button>
    </div>
  );
}

type OlderPages = {
  isFetchingNextPage: boolean;
  isFetchNextPageError: boolean;
  hasNextPage: boolean;
  isFetching: boolean;
  error: unknown;
  fetchNextPage: () => Promise<unknown>;
};

/**
 * The last row of a newest-first list read in pages (one infinite query): loading the next page,
 * its failure with a retry in place, or the button that asks for it.
 */
export function LoadOlderRow({ pages, errorText }: { pages: OlderPages; errorText: (error: unknown) => string }) {
  if (pages.isFetchingNextPage) {
    return (
      <li aria-busy="true" aria-label="Loading older events" className="event">
        <SkeletonLines lines={["35%", "60%"]} />
      </li>
    );
  }
  if (pages.isFetchNextPageError) {
    return (
      <li className="state error" role="alert">
        Could not load older events: {errorText(pages.error)}{" "}
        <button type="button" className="secondary small" onClick={() => void pages.fetchNextPage()}>
          Try again
        </button>
      </li>
    );
  }
  if (!pages.hasNextPage) return null;
  return (
    <li className="load-more">
      <button type="button" className="secondary" onClick={() => void pages.fetchNextPage()} disabled={pages.isFetching}>
        Load older
      </button>
    </li>
  );
}

/**
 * A background refetch failed: the screen keeps the data it has, says since when it is unchanged,
 * and offers a retry. `what` names the screen's data ("the chart", "the worklist").
 */
export function RefreshFailed({ what, loadedAt, error, onRetry, testId }: { what: string; loadedAt: Date; error: string; onRetry: () => void; testId: string }) {
  return (
    <div className="alert error" role="alert" data-testid={testId}>
      <p>
        Could not refresh {what} (last loaded <DateTime value={loadedAt} precision="second" />
        ): what you see may be out of date. {error}
      </p>
      <button type="button" className="secondary small" onClick={onRetry}>
        Retry
      </button>
    </div>
  );
}
