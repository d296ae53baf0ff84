// The audit lists' views read back from a URL: a damaged, forged or out-of-range value reads as
// its default and is named, never sent on for the server to refuse.
import { describe, expect, it } from "vitest";
import { accessFiltersFrom, accessQuery } from "./AccessLogBrowser";
import { reviewViewFrom } from "./EmergencyReview";
import { eventFiltersFrom, eventLogHref } from "./EventLog";
import { instantParam, MAX_PAGES, pagesParam, textParam, uuidParam } from "./urlState";

const q = (s: string) => new URLSearchParams(s);

describe("URL values", () => {
  it("reads the pages shown as 1..MAX_PAGES, anything else as 1", () => {
    expect(pagesParam(q("pages=3"))).toBe(3);
    expect(pagesParam(q(`pages=${MAX_PAGES}`))).toBe(MAX_PAGES);
    for (const bad of ["", "pages=0", "pages=-2", "pages=2.5", "pages=abc", `pages=${MAX_PAGES + 1}`, "pages=99999999999"]) expect(pagesParam(q(bad))).toBe(1);
  });

  it("reads instants with a zone in a plausible year, ids and bounded text", () => {
    expect(instantParam("2026-11-29T15:18:00.000Z")?.toISOString()).toBe("2026-11-29T15:18:00.000Z");
    expect(instantParam("2026-11-29T16:18+01:00")?.toISOString()).toBe("2026-11-29T15:18:00.000Z");
    for (const bad of ["yesterday", "2026-13-01T00:00:00Z", "2026-11-29T15:18", "0001-01-01T00:00:00Z", "9999-01-01T00:00:00Z", ""]) expect(instantParam(bad)).toBeUndefined();
    expect(uuidParam("3F2A91C0-0000-4000-8000-000000000001")).toBe("3f2a91c0-0000-4000-8000-000000000001");
    expect(uuidParam("3f2a91c0")).toBeUndefined();
    expect(textParam(" abc ", 5)).toBe("abc");
    expect(textParam("a".repeat(6), 5)).toBeUndefined();
    expect(textParam("a\u0000b", 5)).toBeUndefined();
  });
});

describe("the access log's URL", () => {
  const patient = "3f2a91c0-0000-4000-8000-000000000001";
  it("round-trips its filters", () => {
    const filters = { patient, user: "user-1", from: new Date("2026-11-01T00:00:00.000Z"), to: new Date("2026-11-30T00:00:00.000Z"), pages: 3 };
    expect(accessFiltersFrom(q(accessQuery(filters)))).toEqual({ filters, ignored: [] });
    expect(accessQuery({ pages: 1 })).toBe("");
  });

  it("leaves out what it cannot read, and a range that ends before it starts, and names them", () => {
    expect(accessFiltersFrom(q("patient=nope&user=&from=soon&pages=x"))).toEqual({ filters: { pages: 1 }, ignored: ["patient", "from"] });
    const reversed = accessFiltersFrom(q(`patient=${patient}&from=2026-12-01T00:00:00Z&to=2026-01-01T00:00:00Z`));
    expect(reversed).toEqual({ filters: { patient, pages: 1 }, ignored: ["from", "to"] });
  });
});

describe("the event log's URL", () => {
  it("round-trips its filters", () => {
    const filters = { type: "AllergyRecorded", user: "u1", time: "occurred" as const, from: "2026-11-01T00:00:00.000Z", to: "2026-11-02T00:00:00.000Z" };
    expect(eventFiltersFrom(q(eventLogHref(filters).split("?")[1]!))).toEqual({ filters, ignored: [] });
  });

  it("leaves out an unreadable type, an overlong stream, a bad or reversed range", () => {
    expect(eventFiltersFrom(q(`type=%3Cscript%3E&stream=${"s".repeat(201)}&aggregate=order&time=sideways`))).toEqual({
      filters: { aggregate: "order", time: "recorded" },
      ignored: ["type", "stream"],
    });
    expect(eventFiltersFrom(q("from=2026-12-01T00:00:00Z&to=2026-01-01T00:00:00Z")).ignored).toEqual(["from", "to"]);
    expect(eventFiltersFrom(q("from=yesterday")).ignored).toEqual(["from"]);
  });
});

describe("the review list's URL", () => {
  it("reads a known status, anything else as needing review", () => {
    expect(reviewViewFrom(q("status=reviewed&pages=2"))).toEqual({ status: "reviewed", pages: 2 });
    expect(reviewViewFrom(q("status=everything&pages=-1"))).toEqual({ status: "needs_review", pages: 1 });
  });
});
