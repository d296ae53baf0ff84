// Server faults: what the browser sees (a generic message with the correlation id) and what the
// log gets (class, SQLSTATE, procedure, correlation id; never a driver's message or DETAIL), and
// stored events this build cannot decode: shown raw in the audit views and the history, a server
// fault (never BAD_REQUEST) where a command needs them.
import { randomUUID } from "node:crypto";
import { TRPCError } from "@trpc/server";
import superjson from "superjson";
import { afterEach, expect, it, vi } from "vitest";
import { z } from "zod";
import { appendToStream, createRegistry, defineEvent, storeOn } from "../eventStore";
import { patientStream } from "../domain/streams";
import { contextFor, newPatient } from "../testing/caller";
import { describeEachDatabase, openFreshPostgresDatabase } from "../testing/db";
import { captureFaultLines } from "../testing/logLines";
import type { SessionUser } from "./context";
import { faultCounts, summarizeFault } from "./faults";
import { handleTrpcRequest } from "./http";
import { createCaller } from "./root";

const user: SessionUser = { id: "faults-user", email: "faults@example.test", name: "Fault Finder", roles: ["clinician", "compliance", "admin"] };

/** A driver error as Prisma's pg adapter raises it: the DETAIL line quotes the row's values. */
function driverError(): Error {
  const cause = Object.assign(new Error('duplicate key value violates unique constraint "rm_patients_mrn_key"'), {
    name: "DriverAdapterError",
    code: "23505",
    detail: "Key (mrn)=(SECRETMRN1) already exists.",
  });
  return Object.assign(new Error("Raw query failed. Code: `23505`. Message: Key (mrn)=(SECRETMRN1) already exists."), {
    name: "PrismaClientKnownRequestError",
    code: "P2010",
    meta: { code: "23505", message: "Key (mrn)=(SECRETMRN1) already exists." },
    cause,
  });
}

afterEach(() => vi.restoreAllMocks());

describeEachDatabase("server faults", (shared, kind) => {
  const db = shared;
  it("answers an unexpected database error with a generic message and the correlation id, and logs codes, never values", async () => {
    const log = captureFaultLines();
    const real = db();
    const failing = {
      ...real,
      prisma: new Proxy(real.prisma, {
        get: (target, key, receiver) => (key === "$queryRawUnsafe" ? () => Promise.reject(driverError()) : Reflect.get(target, key, receiver)),
      }),
    };
    const correlationId = `corr-${randomUUID()}`;
    const res = await handleTrpcRequest(
      new Request(`http://localhost/api/trpc/patient.list?input=${encodeURIComponent(superjson.stringify({ search: "a" }))}`),
      async () => ({ ...contextFor(failing, user), correlationId }),
    );
    expect(res.status).toBe(500);
    const body = await res.text();
    expect(body).not.toMatch(/SECRETMRN1|duplicate key|23505|Prisma/);
    const error = superjson.deserialize<{ message: string; data: { code: string; correlationId: string } }>((JSON.parse(body) as { error: never }).error);
    expect(error.data.code).toBe("INTERNAL_SERVER_ERROR");
    expect(error.message).toContain(correlationId);
    expect(error.data.correlationId).toBe(correlationId);

    // The fault's own line (the request's line says only that it failed).
    const lines = log.lines;
    const line = lines.find((l) => l.includes(correlationId));
    expect(line).toMatch(/patient\.list/);
    expect(line).toMatch(/sqlstate=23505/);
    expect(line).toMatch(/PrismaClientKnownRequestError/);
    expect(lines.join("\n")).not.toMatch(/SECRETMRN1|already exists/);
    // Once, though both the procedure and the HTTP handler see it.
    expect(lines.filter((l) => l.includes(correlationId))).toHaveLength(1);
    // A JSON line a log shipper can filter on, its message the line an operator greps for.
    expect(JSON.parse(line!)).toMatchObject({
      level: "error",
      component: "api",
      fault: "internal",
      procedure: "patient.list",
      correlationId,
      sqlState: "23505",
      prismaCode: "P2010",
      msg: expect.stringMatching(/^\[fault\] patient\.list correlation=/),
    });
  });

  it("gives a fault raised before the context exists (the database held or down) a reference too, in the answer and the log", async () => {
    const log = captureFaultLines();
    const given: string[] = [];
    const res = await handleTrpcRequest(
      new Request(`http://localhost/api/trpc/patient.list?input=${encodeURIComponent(superjson.stringify({ search: "a" }))}`, {
        headers: { "x-correlation-id": "a-clients-own-id" },
      }),
      (_headers, correlationId) => {
        given.push(correlationId);
        return Promise.reject(driverError());
      },
    );
    expect(res.status).toBe(500);
    const body = await res.text();
    expect(body).not.toMatch(/SECRETMRN1|duplicate key|23505|Prisma/);
    const error = superjson.deserialize<{ message: string; data: { code: string; correlationId: string } }>((JSON.parse(body) as { error: never }).error);
    expect(error.data.code).toBe("INTERNAL_SERVER_ERROR");
    // The id the request was given on arrival (the server's, not the header's): the one its
    // context would have carried.
    const correlationId = error.data.correlationId;
    expect(given).toEqual([correlationId]);
    expect(correlationId).not.toBe("a-clients-own-id");
    expect(error.message).toContain(correlationId);
    const lines = log.lines.filter((l) => l.includes(correlationId));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/sqlstate=23505/);

    // A refusal before the context (a cross-site request) keeps its own code and message.
    const refused = await handleTrpcRequest(new Request("http://localhost/api/trpc/patient.list"), () =>
      Promise.reject(new TRPCError({ code: "FORBIDDEN", message: "Refused as a possible cross-site request: test" })),
    );
    expect(refused.status).toBe(403);
    const refusal = superjson.deserialize<{ message: string; data: { correlationId: string | null } }>((JSON.parse(await refused.text()) as { error: never }).error);
    expect(refusal.message).toMatch(/cross-site/);
    expect(refusal.data.correlationId).toMatch(/.+/);
  });

  it("summarizes a fault by class and codes only", () => {
    expect(summarizeFault(driverError())).toEqual({ errorClass: "PrismaClientKnownRequestError < DriverAdapterError", sqlState: "23505", prismaCode: "P2010" });
  });

  it("shows stored events it cannot decode as stored, with a warning, and treats them as a server fault where a command needs them", async () => {
    // Undecodable events in the shared log would stop every other suite's global-log reader (as
    // they rightly stop a projection): on PostgreSQL this test writes them to a database of its own.
    const own = kind === "postgresql" ? await openFreshPostgresDatabase(4) : null;
    const db = () => own?.db ?? shared();
    try {
      const log = captureFaultLines();
      const api = createCaller(contextFor(db(), user));
      const { patientId } = await api.patient.register(newPatient());
      // Written as an older or foreign build might have: a type this build does not know, and a
      // known type whose payload fails today's schema (a reason is required, the changes are empty).
      const lenient = storeOn(
        db(),
        createRegistry([defineEvent("PatientMerged", z.looseObject({})), defineEvent("PatientDemographicsUpdated", z.looseObject({}))]),
      );
      const envelope = () => ({ eventId: randomUUID(), occurredAt: new Date(), userId: user.id, correlationId: `seed-${randomUUID()}`, causationId: null });
      const unknown = { ...envelope(), type: "PatientMerged", data: { into: "Zebediah Quux" } };
      const broken = { ...envelope(), type: "PatientDemographicsUpdated", data: { patientId, changes: {}, previous: {}, reason: "", note: "Zebediah Quux" } };
      await appendToStream(lenient, patientStream(patientId), [unknown, broken], { expectedVersion: 1, aggregateType: "patient" });
      const before = faultCounts.undecodableEvents;

      const log1 = await api.audit.events({ streamId: patientStream(patientId) });
      expect(log1.items.map((i) => [i.type, i.undecodable !== null])).toEqual([
        ["PatientDemographicsUpdated", true],
        ["PatientMerged", true],
        ["PatientRegistered", false],
      ]);
      expect(log1.items[1]!.data).toEqual({ into: "Zebediah Quux" });
      expect(log1.items[1]!.undecodable).toMatch(/not an event type/);
      expect(log1.items[0]!.undecodable).toMatch(/does not match/);

      const detail = await api.audit.event({ eventId: broken.eventId });
      expect(detail.event.undecodable).toMatch(/does not match/);
      expect(detail.event.data).toMatchObject({ reason: "", note: "Zebediah Quux" });

      const timeline = await api.audit.patientTimeline({ patientId });
      expect(timeline.items.filter((i) => i.undecodable)).toHaveLength(2);
      const history = await api.patient.history({ patientId });
      expect(history.items.filter((i) => i.undecodable)).toHaveLength(2);
      const chart = await api.patient.byId({ patientId });
      expect(chart.patient.patientId).toBe(patientId);

      // A command must fold the stream, and cannot: the server's fault, not the client's.
      const error = await api.patient
        .updateDemographics({ patientId, expectedVersion: 3, changes: { givenName: "Grace" }, reason: "typo" })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TRPCError);
      expect((error as TRPCError).code).toBe("INTERNAL_SERVER_ERROR");

      expect(faultCounts.undecodableEvents - before).toBeGreaterThanOrEqual(8);
      const lines = log.lines.map((l) => (JSON.parse(l) as { msg: string }).msg).join("\n");
      expect(lines).toMatch(/undecodable event type="PatientMerged" v1 \(unknown type\)/);
      expect(lines).toMatch(/patient\.updateDemographics .*class=(EventDecodeError|UnknownEventTypeError)/);
      expect(lines).not.toContain("Zebediah");
      expect(log.lines.join("\n")).not.toContain("Zebediah");
    } finally {
      await own?.drop();
    }
  });
});
