"use client";
// Unsaved input is not lost without a question: closing or reloading the tab asks (beforeunload),
// and so does a click on a link to another page of the console. The App Router has no events for
// its navigations, so clicks on links are caught before Next's <Link> sees them (window, capture
// phase). Navigations the screens make themselves (router.push after a save) are not asked about:
// they follow a save; Sign out asks itself (confirmLeaving). Every mounted form with unsaved input
// holds one entry; one question covers all.
// The browser's Back and Forward buttons ask too, where the browser has the Navigation API
// (Chromium; Firefox 147+ and Safari 26.2+): its navigate event comes before the traversal moves
// the page, and is cancelable for a traversal within the console. Browsers let a page refuse a
// traversal only once per user activation (so no page can trap Back): after "stay", a second Back
// without typing or clicking in between leaves unasked. Without the API, Back leaves unasked.
import { useEffect, useId } from "react";

export const leaveQuestion = "You have unsaved changes on this page. Leave and lose them?";

const unsaved = new Set<string>();

function onBeforeUnload(event: BeforeUnloadEvent) {
  if (unsaved.size === 0) return;
  event.preventDefault();
  // Older Chromium needs returnValue set; the browser shows its own wording.
  event.returnValue = "";
}

function onClick(event: MouseEvent) {
  if (unsaved.size === 0 || event.defaultPrevented || event.button !== 0) return;
  // A new tab or window (ctrl/cmd/shift/middle click) leaves this page as it is.
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const link = event.target instanceof Element ? event.target.closest("a[href]") : null;
  if (!(link instanceof HTMLAnchorElement) || link.hasAttribute("download")) return;
  if (link.target && link.target !== "_self") return;
  const to = new URL(link.href, window.location.href);
  // Another site unloads this page: beforeunload asks. A link within this page (#main) leaves nothing.
  if (to.origin !== window.location.origin) return;
  if (to.pathname === window.location.pathname && to.search === window.location.search) return;
  if (window.confirm(leaveQuestion)) return;
  event.preventDefault();
  event.stopPropagation();
}

type NavigateEvent = Event & {
  readonly navigationType: string;
  readonly cancelable: boolean;
  readonly destination: { readonly url: string; readonly sameDocument: boolean };
};
const navigationApi = (): EventTarget | undefined => (window as unknown as { navigation?: EventTarget }).navigation;

function onNavigate(event: Event) {
  const navigate = event as NavigateEvent;
  if (unsaved.size === 0 || navigate.navigationType !== "traverse" || !navigate.cancelable) return;
  const to = new URL(navigate.destination.url);
  // A traversal between entries of this same page (#main and back) leaves nothing.
  if (to.pathname === window.location.pathname && to.search === window.location.search) return;
  if (!window.confirm(leaveQuestion)) navigate.preventDefault();
}

/** For a control that leaves the page by other means than a link (Sign out): true when nothing is unsaved or the user says leave. */
export function confirmLeaving(): boolean {
  return unsaved.size === 0 || window.confirm(leaveQuestion);
}

function hold(id: string) {
  if (unsaved.size === 0) {
    window.addEventListener("beforeunload", onBeforeUnload);
    window.addEventListener("click", onClick, true);
    navigationApi()?.addEventListener("navigate", onNavigate);
  }
  unsaved.add(id);
}

function release(id: string) {
  if (!unsaved.delete(id) || unsaved.size > 0) return;
  window.removeEventListener("beforeunload", onBeforeUnload);
  window.removeEventListener("click", onClick, true);
  navigationApi()?.removeEventListener("navigate", onNavigate);
}

/** While `dirty`, leaving the page asks first. A form that saved and closed (unmounted) asks no more. */
export function useLeaveGuard(dirty: boolean) {
  const id = useId();
  useEffect(() => {
    if (!dirty) return;
    hold(id);
    return () => release(id);
  }, [dirty, id]);
}
