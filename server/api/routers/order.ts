import { z } from "zod";
import type { Database } from "../../db/client";
import { NotFoundError } from "../../errors";
import { loadAggregate } from "../../eventStore";
import { encounterCheck, encounterDecider } from "../../domain/encounter/decider";
import { changeOrderStatusInput, createOrderInput, orderDecider } from "../../domain/order/decider";
import { orderKinds, orderPriorities, orderStatuses } from "../../domain/order/events";
import { patientCheck, patientDecider } from "../../domain/patient/decider";
import { encounterStream, orderStream, patientStream } from "../../domain/streams";
import { projectOrder } from "../../projections/clinical";
import { activeOrderStatuses, orderById, orderWorklist, worklistCursor } from "../../projections/queries";
import { cursorInput, idText, pageLimit } from "../../input";
import { recordAccess } from "../accessLog";
import { requireChartAccessAndRecord, requireChartWriteAccess } from "../emergencyAccess";
import { commandIdInput, expectedVersionInput, newAggregateId, runCommand } from "../commands";
import { providerFor } from "../providers";
import { clinicianProcedure, router } from "../trpc";
import { onFreshFacts, refusingErased } from "../erasure";

const orderId = z.uuid("order id must be a uuid");

/** The patient an order is for; null when there is no such order. */
async function orderPatientId(prisma: Database["prisma"], id: string): Promise<string | null> {
  return (await prisma.rmOrder.findUnique({ where: { orderId: id }, select: { patientId: true } }))?.patientId ?? null;
}

export const orderRouter = router({
  create: clinicianProcedure
    .input(
      createOrderInput
        .omit({ orderId: true, providerId: true })
        .extend({ providerId: createOrderInput.shape.providerId.optional(), ...commandIdInput }),
    )
    .mutation(async ({ ctx, input }) => {
      const { commandId, ...data } = input;
      const chart = await requireChartWriteAccess(ctx, { patientId: data.patientId });
      const id = newAggregateId(commandId, "order");
      const providerId = await providerFor(ctx, data.providerId, { patientId: data.patientId, access: chart?.access ?? null });
      // Decided on the patient (allergies, active) and the encounter (completed or not) as
      // loaded: decided again when either changes before the order commits.
      const result = await onFreshFacts(async () => {
        const [patient, encounter] = await Promise.all([
          loadAggregate(ctx.store, patientStream(data.patientId), patientDecider),
          data.encounterId ? loadAggregate(ctx.store, encounterStream(data.encounterId), encounterDecider) : null,
        ]);
        const decidedOn = { patientVersion: patient.version, encounter: data.encounterId && encounter ? { id: data.encounterId, version: encounter.version } : null };
        return runCommand(
          ctx,
          orderStream(id),
          orderDecider,
          {
            type: "CreateOrder",
            data: {
              ...data,
              orderId: id,
              providerId,
              patient: patientCheck(patient.state),
              encounter: encounter ? encounterCheck(encounter.state) : null,
            },
            metadata: { now: new Date() },
          },
          // A re-sent order is the same command after the chart or the encounter changed meanwhile.
          { commandId, asked: { ...data, orderId: id }, startsStream: true, project: refusingErased(projectOrder, decidedOn) },
        );
      });
      return { orderId: id, version: result.version, repeated: result.repeated };
    }),

  changeStatus: clinicianProcedure
    .input(changeOrderStatusInput.extend({ expectedVersion: expectedVersionInput, ...commandIdInput }))
    .mutation(async ({ ctx, input }) => {
      const { commandId, expectedVersion, ...data } = input;
      // No glass here: the worklist is the department's queue of every patient's orders, and
      // whoever performs an order (the lab, imaging, the ward) moves it and enters its result.
      // A refusal quotes the order (its status, its kind): recorded against the order's patient.
      ctx.chartWrites.push(() => orderPatientId(ctx.db.prisma, data.orderId));
      const result = await runCommand(
        ctx,
        orderStream(data.orderId),
        orderDecider,
        { type: "ChangeOrderStatus", data, metadata: { now: new Date() } },
        { commandId, expectedVersion, project: refusingErased(projectOrder) },
      );
      return { version: result.version, status: result.state.status, changed: result.events.length > 0, repeated: result.repeated };
    }),

  byId: clinicianProcedure.input(z.object({ orderId })).query(async ({ ctx, input }) => {
    const order = await orderById(ctx.db.prisma, input.orderId);
    if (!order) throw new NotFoundError("Order", input.orderId);
    await requireChartAccessAndRecord(ctx, order.patientId, { procedure: "order.byId" });
    return order;
  }),

  worklist: clinicianProcedure
    .input(
      z.object({
        statuses: z.array(z.enum(orderStatuses)).min(1).max(orderStatuses.length).default(activeOrderStatuses),
        priority: z.enum(orderPriorities).optional(),
        kind: z.enum(orderKinds).optional(),
        /** "me" for the caller's own orders. */
        provider: z.union([z.literal("me"), idText]).optional(),
        cursor: cursorInput(worklistCursor),
        limit: pageLimit(100, 25),
      }),
    )
    .query(async ({ ctx, input }) => {
      const page = await orderWorklist(ctx.db.prisma, {
        ...input,
        providerId: input.provider === "me" ? ctx.user.id : input.provider,
      });
      await recordAccess(ctx, { patientIds: [...new Set(page.items.map((o) => o.patientId))], procedure: "order.worklist" });
      return page;
    }),
});
