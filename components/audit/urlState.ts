"use client";
// The audit lists keep their filters and how many pages were shown in the URL's query string, so
// Back from an event, a reload and a shared link show the same view. Each value is read
// defensively: one that is damaged, forged or out of range reads as its default (the list says
// which it left out), never as an error page.
import { usePathname, useRouter, useSearchParams } from "next/navigation";
import { useCallback, useEffect } from "react";

/** At most this many pages are re-read from a link (each page is a logged read). */
export const MAX_PAGES = 20;

/** `pages` in the URL: how many pages of the list were shown; 1 when absent or not 2..MAX_PAGES. */
export function pagesParam(params: URLSearchParams): number {
  const raw = params.get("pages");
  if (!raw || !/^\d{1,3}$/.test(raw)) return 1;
  const n = Number(raw);
  return n >= 1 && n <= MAX_PAGES ? n : 1;
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A uuid, or undefined. */
export function uuidParam(value: string | null | undefined): string | undefined {
  const v = value?.trim();
  return v && uuidPattern.test(v) ? v.toLowerCase() : undefined;
}

/** Text of at most `max` characters with no control characters, or undefined. */
export function textParam(value: string | null | undefined, max: number): string | undefined {
  const v = value?.trim();
  return v && v.length <= max && !/[\u0000-\u001f\u007f]/.test(v) ? v : undefined;
}

/** An instant written as ISO 8601 with a zone ("2026-11-29T15:18:00.000Z"), in a plausible range, or undefined. */
export function instantParam(value: string | null | undefined): Date | undefined {
  const v = value?.trim();
  if (!v || !/^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d{1,3})?)?(Z|[+-]\d\d:\d\d)$/.test(v)) return undefined;
  const d = new Date(v);
  const year = d.getUTCFullYear();
  return Number.isNaN(d.getTime()) || year < 1900 || year > 2200 ? undefined : d;
}

/** One of `allowed`, or undefined. */
export function oneOf<T extends string>(value: string | null | undefined, allowed: readonly T[]): T | undefined {
  return allowed.find((a) => a === value);
}

/**
 * A query string of these values (the unset left out), in the order given: the same filters give
 * the same URL, so a list's cached pages are found again.
 */
export function queryOf(values: Record<string, string | number | Date | null | undefined>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined || value === null || value === "") continue;
    params.set(key, value instanceof Date ? value.toISOString() : String(value));
  }
  return params.toString();
}

/** Replaces this page's query string (no new history entry, no scroll): the view changed, not the place. */
export function useReplaceQuery(): (query: string) => void {
  const router = useRouter();
  const pathname = usePathname();
  const current = useSearchParams().toString();
  return useCallback(
    (query: string) => {
      if (query === current) return;
      router.replace(query ? `${pathname}?${query}` : pathname, { scroll: false });
    },
    [router, pathname, current],
  );
}

type PagedQuery = {
  data?: { pages: readonly unknown[] } | undefined;
  hasNextPage: boolean;
  isFetching: boolean;
  isError: boolean;
  fetchNextPage: () => Promise<unknown>;
};

/**
 * Loads pages until `wanted` are shown (a link or Back to "3 pages"), one after the other from
 * the newest, each from the cursor of the page before: stops at the list's end or at an error.
 * The cursors themselves never go in the URL, so none can go stale there.
 */
export function useShownPages(list: PagedQuery, wanted: number): void {
  const loaded = list.data?.pages.length ?? 0;
  const { hasNextPage, isFetching, isError, fetchNextPage } = list;
  useEffect(() => {
    if (loaded > 0 && loaded < wanted && hasNextPage && !isFetching && !isError) void fetchNextPage();
  }, [loaded, wanted, hasNextPage, isFetching, isError, fetchNextPage]);
}
