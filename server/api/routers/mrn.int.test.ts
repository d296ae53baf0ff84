import { randomUUID } from "node:crypto";
import { TRPCError } from "@trpc/server";
import { expect, it } from "vitest";
import { describePostgres } from "../../testing/db";
import { createContext, type SessionUser } from "../context";
import { createCaller } from "../root";

const clinician: SessionUser = { id: "clinician-mrn", email: "mrn@example.test", name: "M R N", roles: ["clinician"] };

describePostgres("MRN uniqueness under concurrency", (db) => {
  it("20 parallel registrations of one MRN: exactly one succeeds, the rest are refused and write nothing", async () => {
    const correlationId = `mrn-race-${randomUUID()}`;
    const api = createCaller(await createContext({ headers: new Headers(), correlationId, user: clinician, db: db() }));
    const mrn = `M${randomUUID().replace(/-/g, "").slice(0, 9).toUpperCase()}`;
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) =>
        api.patient.register({ mrn, givenName: `Twin${i}`, familyName: "Race", dateOfBirth: "2000-02-02", sex: "unknown" }),
      ),
    );
    const ok = results.filter((r) => r.status === "fulfilled");
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    expect(ok).toHaveLength(1);
    expect(refused).toHaveLength(19);
    for (const r of refused) {
      expect(r.reason).toBeInstanceOf(TRPCError);
      expect((r.reason as TRPCError).code).toBe("PRECONDITION_FAILED");
    }
    // The MRN is sealed in the events (PHI): count this request's registrations instead.
    const rows = await db().prisma.$queryRawUnsafe<{ n: bigint }[]>(
      "SELECT count(*) AS n FROM events WHERE event_type = 'PatientRegistered' AND correlation_id = $1",
      correlationId,
    );
    expect(Number(rows[0]!.n)).toBe(1);
    expect((await api.patient.list({ search: mrn })).items).toHaveLength(1);
  });
});
