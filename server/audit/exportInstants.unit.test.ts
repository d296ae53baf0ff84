// An extract's time range is a pair of instants, the same on every server: a link or script that
// asks for one names its zone. Read in the server's zone, "until 2026-10-31T23:59:59" ended four
// hours later on a server in New York than on one in UTC, and ten hours earlier in Kiribati.
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { exportRequestFrom } from "./export";

const request = (query: string) => exportRequestFrom(new URLSearchParams(`view=access&format=csv&${query}`));

describe.each(["UTC", "America/New_York", "Pacific/Kiritimati", "Asia/Kolkata"])("an extract's range on a server in %s", (zone) => {
  let saved: string | undefined;
  beforeEach(() => {
    saved = process.env.TZ;
    process.env.TZ = zone;
  });
  afterEach(() => {
    if (saved === undefined) delete process.env.TZ;
    else process.env.TZ = saved;
  });

  it("reads an instant with its zone as that instant", () => {
    const r = request("from=2026-10-01T00:00:00-04:00&to=2026-10-31T23:59:59.999Z");
    expect(r.success && r.data).toMatchObject({ from: new Date("2026-10-01T04:00:00Z"), to: new Date("2026-10-31T23:59:59.999Z") });
    // "+" must be sent as %2B: in a query string a bare "+" is a space.
    const plus = request("from=2026-10-01T00:00:00%2B05:30");
    expect(plus.success && plus.data).toMatchObject({ from: new Date("2026-09-30T18:30:00Z") });
  });

  it("refuses a date or a date and time without a zone, and a day the calendar lacks, naming the field", () => {
    for (const [query, field] of [
      ["from=2026-10-01", "from"],
      ["to=2026-10-31T23:59:59", "to"],
      ["to=2026-10-31T23:59:59 05:30", "to"],
      ["from=2026-02-30T00:00:00Z", "from"],
    ] as const) {
      const r = request(query);
      expect(r.success, query).toBe(false);
      expect(r.error?.issues.map((i) => i.path.join(".")), query).toEqual([field]);
    }
    expect(request("from=2026-10-01").error?.issues[0]?.message).toMatch(/with its zone/);
    const events = exportRequestFrom(new URLSearchParams("view=events&format=ndjson&occurredTo=2026-03-08T02:30"));
    expect(events.error?.issues.map((i) => i.path.join("."))).toEqual(["occurredTo"]);
  });
});
