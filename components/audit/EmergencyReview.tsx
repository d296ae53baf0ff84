"use client";
// Accesses needing review: every break-the-glass access (who, which patient, when, why) until a
// compliance officer marks it reviewed with a note. A review is recorded (who, when) and final.
import { DateTime } from "../DateTime";
import { useInfiniteQuery, useMutation, useQueryClient } from "@tanstack/react-query";
import type { inferRouterOutputs } from "@trpc/server";
import Link from "next/link";
import { useSearchParams } from "next/navigation";
import { useState, type FormEvent } from "react";
import { ExportMenu } from "./ExportMenu";
import type { AppRouter } from "@/server/api/root";
import { LoadMore, TableHead } from "../DataTable";
import { EmptyState, ErrorState, Flash, Loading } from "../States";
import { useTRPC } from "../trpc";
import { errorText } from "./format";
import { MAX_PAGES, oneOf, pagesParam, queryOf, useReplaceQuery, useShownPages } from "./urlState";
import { describeGrantUse } from "@/shared/audit/grantUse";

type Item = inferRouterOutputs<AppRouter>["audit"]["emergencyAccesses"]["items"][number];
type Status = "needs_review" | "reviewed" | "all";
const statuses: Record<Status, string> = { needs_review: "Needing review", reviewed: "Reviewed", all: "All" };

const statusKeys = Object.keys(statuses) as Status[];

/** The list's view as its URL holds it: which accesses, and how many pages (a damaged value reads as the default). */
export function reviewViewFrom(params: URLSearchParams): { status: Status; pages: number } {
  return { status: oneOf(params.get("status"), statusKeys) ?? "needs_review", pages: pagesParam(params) };
}

export function EmergencyReview() {
  const trpc = useTRPC();
  const params = useSearchParams();
  const replace = useReplaceQuery();
  const { status, pages } = reviewViewFrom(params);
  const show = (next: { status: Status; pages: number }) =>
    replace(queryOf({ status: next.status === "needs_review" ? undefined : next.status, pages: next.pages > 1 ? next.pages : undefined }));
  const [flash, setFlash] = useState<string | null>(null);
  const list = useInfiniteQuery(
    trpc.audit.emergencyAccesses.infiniteQueryOptions({ status, limit: 25 }, { getNextPageParam: (page) => page.nextCursor ?? undefined }),
  );
  useShownPages(list, pages);
  const items = list.data?.pages.flatMap((p) => p.items) ?? [];
  const loaded = list.data?.pages.length ?? 0;

  return (
    <section className="panel" aria-labelledby="review-title">
      <div className="panel-head">
        <h2 id="review-title">Emergency accesses</h2>
        <ExportMenu view="review" filter={{ status }} />
        <div className="row tight" role="group" aria-label="Show">
          {statusKeys.map((s) => (
            <button key={s} type="button" className={s === status ? "" : "secondary"} aria-pressed={s === status} onClick={() => show({ status: s, pages: 1 })}>
              {statuses[s]}
            </button>
          ))}
        </div>
      </div>
      <Flash message={flash} onDismiss={() => setFlash(null)} />
      {list.isPending ? (
        <Loading label="Loading emergency accesses" lines={["85%", "70%"]} />
      ) : list.isError ? (
        <ErrorState onRetry={() => void list.refetch()}>Emergency accesses could not be loaded: {errorText(list.error)}</ErrorState>
      ) : items.length === 0 ? (
        <EmptyState role="status">{status === "needs_review" ? "No emergency access is waiting for review." : "No emergency accesses here."}</EmptyState>
      ) : (
        <>
          <table className="data">
            <TableHead columns={["When", "Who", "Patient", "MRN", "Reason", "What they did under it", "Review"]} />
            <tbody>
              {items.map((item) => (
                <Row key={item.accessId} item={item} onReviewed={(m) => setFlash(m)} />
              ))}
            </tbody>
          </table>
          <LoadMore
            hasMore={list.hasNextPage}
            loading={list.isFetchingNextPage || (loaded < pages && list.hasNextPage && !list.isError)}
            onMore={() => (loaded < pages || loaded >= MAX_PAGES ? void list.fetchNextPage() : show({ status, pages: loaded + 1 }))}
            label="Older accesses"
          />
        </>
      )}
    </section>
  );
}

function Row({ item, onReviewed }: { item: Item; onReviewed: (message: string) => void }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [open, setOpen] = useState(false);
  const review = useMutation(
    trpc.audit.reviewEmergencyAccess.mutationOptions({
      onSuccess: async () => {
        setOpen(false);
        onReviewed(`Marked reviewed: ${item.userName ?? "unknown user"}'s access to ${item.patient?.name ?? "the patient"}.`);
        await queryClient.invalidateQueries({ queryKey: trpc.audit.emergencyAccesses.pathKey() });
      },
      // Refused because another officer reviewed it meanwhile: the list then shows their review.
      onError: () => void queryClient.invalidateQueries({ queryKey: trpc.audit.emergencyAccesses.pathKey() }),
    }),
  );
  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    review.mutate({ accessId: item.accessId, note: String(new FormData(event.currentTarget).get("note") ?? "") });
  }
  return (
    <tr data-testid="emergency-access">
      <td className="nowrap">
        <DateTime value={item.grantedAt} />
      </td>
      <td>{item.userName ?? "unknown user"}</td>
      <td className="wrap">
        <Link href={`/audit/patients/${item.patientId}`}>{item.patient?.name ?? "unknown patient"}</Link>
      </td>
      <td className="mono nowrap">{item.patient?.mrn}</td>
      <td className="wrap">{item.reason}</td>
      <td className="wrap" data-testid="grant-use">
        {item.use.lastingCare ? (
          <span className="chip warn" title="An encounter or order of theirs keeps the chart open to them after the grant ends">
            Now in their care
          </span>
        ) : null}
        <div className={item.use.views === 0 && item.use.changes.length === 0 ? "muted" : undefined}>{describeGrantUse({ ...item.use, lastingCare: false })}</div>
      </td>
      <td>
        {item.review ? (
          <div data-testid="review">
            Reviewed by {item.review.reviewerName ?? "unknown user"} on <DateTime value={item.review.reviewedAt} />
            <div className="muted">“{item.review.note}”</div>
          </div>
        ) : item.own ? (
          <span className="muted" data-testid="own-access">
            Your own access: another compliance officer reviews it.
          </span>
        ) : open ? (
          <form onSubmit={submit} aria-label="Review note">
            <label htmlFor={`note-${item.accessId}`}>Note</label>
            <textarea id={`note-${item.accessId}`} name="note" required minLength={3} maxLength={1000} rows={2} />
            {review.isError ? <p className="alert error" role="alert">{errorText(review.error)}</p> : null}
            <div className="actions">
              <button type="submit" disabled={review.isPending}>
                {review.isPending ? "Saving…" : "Mark reviewed"}
              </button>
              <button type="button" className="secondary" onClick={() => setOpen(false)}>
                Cancel
              </button>
            </div>
          </form>
        ) : (
          <button type="button" className="secondary" onClick={() => setOpen(true)}>
            Review…
          </button>
        )}
      </td>
    </tr>
  );
}
