import { z } from "zod";
import { NotFoundError } from "../../errors";
import { loadAggregate } from "../../eventStore";
import { completeEncounterInput, encounterDecider, startEncounterInput } from "../../domain/encounter/decider";
import { patientCheck, patientDecider } from "../../domain/patient/decider";
import { encounterStream, patientStream } from "../../domain/streams";
import { projectEncounter } from "../../projections/clinical";
import { encounterById, encountersForPatient } from "../../projections/queries";
import { recordAccess } from "../accessLog";
import { requireChartAccess, requireChartAccessAndRecord, requireChartWriteAccess } from "../emergencyAccess";
import { commandIdInput, expectedVersionInput, newAggregateId, runCommand } from "../commands";
import { providerFor } from "../providers";
import { clinicianProcedure, router } from "../trpc";
import { onFreshFacts, refusingErased } from "../erasure";

const encounterId = z.uuid("encounter id must be a uuid");

export const encounterRouter = router({
  start: clinicianProcedure
    .input(
      startEncounterInput
        .omit({ encounterId: true, providerId: true })
        .extend({ providerId: startEncounterInput.shape.providerId.optional(), ...commandIdInput }),
    )
    .mutation(async ({ ctx, input }) => {
      const { commandId, ...data } = input;
      const chart = await requireChartWriteAccess(ctx, { patientId: data.patientId });
      const id = newAggregateId(commandId, "encounter");
      const providerId = await providerFor(ctx, data.providerId, { patientId: data.patientId, access: chart?.access ?? null });
      // Decided on the patient as loaded (active or not): decided again when it changes first.
      const result = await onFreshFacts(async () => {
        const patient = await loadAggregate(ctx.store, patientStream(data.patientId), patientDecider);
        return runCommand(
          ctx,
          encounterStream(id),
          encounterDecider,
          {
            type: "StartEncounter",
            data: { ...data, encounterId: id, providerId, patient: patientCheck(patient.state) },
            metadata: { now: new Date() },
          },
          // A re-sent start is the same command after the chart changed meanwhile (an allergy added).
          { commandId, asked: { ...data, encounterId: id }, startsStream: true, project: refusingErased(projectEncounter, { patientVersion: patient.version }) },
        );
      });
      return { encounterId: id, version: result.version, repeated: result.repeated };
    }),

  complete: clinicianProcedure
    .input(completeEncounterInput.extend({ expectedVersion: expectedVersionInput, ...commandIdInput }))
    .mutation(async ({ ctx, input }) => {
      const { commandId, expectedVersion, ...data } = input;
      await requireChartWriteAccess(ctx, { encounterId: data.encounterId });
      const result = await runCommand(
        ctx,
        encounterStream(data.encounterId),
        encounterDecider,
        { type: "CompleteEncounter", data, metadata: { now: new Date() } },
        { commandId, expectedVersion, project: refusingErased(projectEncounter) },
      );
      return { version: result.version, repeated: result.repeated };
    }),

  byId: clinicianProcedure.input(z.object({ encounterId })).query(async ({ ctx, input }) => {
    const encounter = await encounterById(ctx.db.prisma, input.encounterId);
    if (!encounter) throw new NotFoundError("Encounter", input.encounterId);
    await requireChartAccessAndRecord(ctx, encounter.patientId, { procedure: "encounter.byId" });
    return encounter;
  }),

  listForPatient: clinicianProcedure
    .input(z.object({ patientId: z.uuid("patient id must be a uuid") }))
    .query(async ({ ctx, input }) => {
      await requireChartAccess(ctx, input.patientId);
      const items = await encountersForPatient(ctx.db.prisma, input.patientId);
      await recordAccess(ctx, { patientIds: [input.patientId], procedure: "encounter.listForPatient" });
      return items;
    }),
});
