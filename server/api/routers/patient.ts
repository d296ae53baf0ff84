import { z } from "zod";
import { InvariantError, NotFoundError, PossibleDuplicateError } from "../../errors";
import { loadAggregate, readStream, readStreamsBackwards } from "../../eventStore";
import { patientDecider, type PatientCommand } from "../../domain/patient/decider";
import { demographicsChangesInput, registerPatientSchema } from "../../../shared/clinical/patients";
import { alertFormSchema, allergyFormSchema, allergyReasonSchema } from "../../../shared/clinical/safety";
import { pageLimit, positionInput, text, versionInput } from "../../input";
import { patientStream } from "../../domain/streams";
import { projectPatient } from "../../projections/clinical";
import { patientChart, patientStreamIds } from "../../projections/queries";
import { patientSearchInput, searchPatients } from "../patientSearch";
import { recordAccess, viewIdInput } from "../accessLog";
import { breakGlass, emergencyReasonInput, EMERGENCY_ACCESS_HOURS, requireChartAccess, requireChartAccessAndRecord, requireChartWriteAccess } from "../emergencyAccess";
import { commandIdInput, expectedVersionInput, newAggregateId, runCommand } from "../commands";
import { clinicianProcedure, router } from "../trpc";
import { historyItems } from "../historyItem";
import { tolerantStore } from "../undecodable";
import { checkedRegistration, recordCandidatesShown } from "../duplicates";

const patientId = z.uuid("patient id must be a uuid");

type SafetyCtx = Parameters<typeof runCommand>[0] & Parameters<typeof requireChartWriteAccess>[0];
type SafetyCommand = Exclude<PatientCommand, { type: "RegisterPatient" | "UpdatePatientDemographics" | "FlagCriticalResult" }>;

/**
 * Allergies and alerts: facts added to the chart, checked against the patient as loaded now. Like
 * every write to a chart, they need the patient in the caller's care (or the glass broken) first,
 * before the patient is loaded: a refuted allergy switches off the medication check for later
 * orders, and the decider's refusals quote the chart ("an active allergy to ... is already recorded").
 */
async function runSafetyCommand(ctx: SafetyCtx, procedure: string, command: Omit<SafetyCommand, "metadata">, commandId: string | undefined) {
  await requireChartWriteAccess(ctx, { patientId: command.data.patientId });
  const result = await runCommand(
    ctx,
    patientStream(command.data.patientId),
    patientDecider,
    { ...command, metadata: { now: new Date() } } as SafetyCommand,
    { commandId, project: projectPatient },
  );
  return { version: result.version, changed: result.events.length > 0, repeated: result.repeated };
}

/**
 * The MRN is taken by a patient the caller registered themselves: most often their own earlier
 * send, whose answer was lost before a reload, retyped with a new command id. Said so, with the
 * patient to open (theirs, in their care), instead of "belongs to another patient".
 */
async function ownRegistration(ctx: SafetyCtx, mrn: string): Promise<InvariantError | null> {
  const holder = await ctx.db.prisma.rmPatient.findUnique({ where: { mrn }, select: { patientId: true, registeredAt: true } });
  if (!holder) return null;
  const [own] = await ctx.db.prisma.$queryRaw<{ own: boolean }[]>`
    SELECT EXISTS (SELECT 1 FROM events WHERE stream_id = ${patientStream(holder.patientId)} AND version = 1 AND user_id = ${ctx.user.id}) AS own`;
  if (!own?.own) return null;
  return new InvariantError(
    `You registered a patient with MRN ${mrn} at ${holder.registeredAt.toISOString()}: open that chart rather than registering it again`,
    "patient.mrn_yours",
    holder.patientId,
  );
}

const allergyId = z.uuid("allergy id must be a uuid");
const alertId = z.uuid("alert id must be a uuid");

export const patientRouter = router({
  /**
   * Registers a patient, unless one already registered may be the same person (the same date of
   * birth and names): then PRECONDITION_FAILED, kind "possible_duplicate", with the
   * candidates. Sent again with `notDuplicateOf` naming them, it registers, and the new patient's
   * first event records whom the clinician judged to be someone else.
   */
  register: clinicianProcedure
    .input(
      registerPatientSchema.extend({
        ...commandIdInput,
        notDuplicateOf: z.array(z.uuid("each patient id must be a uuid")).max(10, "at most 10 patients").default([]),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const { commandId, notDuplicateOf, ...data } = input;
      const id = newAggregateId(commandId, "patient");
      // "MRN ... already belongs to another patient" tells that patient is here: a row on their chart.
      const mrnHolder = async () => (await ctx.db.prisma.rmPatient.findUnique({ where: { mrn: data.mrn }, select: { patientId: true } }))?.patientId ?? null;
      ctx.chartWrites.push(async (refusal) => (refusal.rule === "patient.mrn_taken" || refusal.rule === "patient.mrn_yours" ? mrnHolder() : null));
      try {
        const result = await runCommand(
          ctx,
          patientStream(id),
          patientDecider,
          { type: "RegisterPatient", data: { ...data, patientId: id }, metadata: { now: new Date() } },
          {
            commandId,
            startsStream: true,
            // Checked in the registration's transaction (a re-sent registration that went through
            // is its own stored result before any check, so never a duplicate of itself).
            project: checkedRegistration(data, [...notDuplicateOf, id], projectPatient),
            ...(notDuplicateOf.length > 0 ? { extra: { notDuplicateOf: notDuplicateOf.join(",") } } : {}),
          },
        );
        return { patientId: id, version: result.version, repeated: result.repeated };
      } catch (error) {
        if (error instanceof PossibleDuplicateError) await recordCandidatesShown(ctx, error);
        if (error instanceof InvariantError && error.rule === "patient.mrn_taken") throw (await ownRegistration(ctx, data.mrn)) ?? error;
        throw error;
      }
    }),

  updateDemographics: clinicianProcedure
    .input(
      z.object({
        patientId,
        expectedVersion: expectedVersionInput,
        changes: demographicsChangesInput,
        reason: text(500, { trim: false, maxMessage: "the reason may be at most 500 characters" }),
        ...commandIdInput,
      }),
    )
    .mutation(async ({ ctx, input }) => {
      await requireChartWriteAccess(ctx, { patientId: input.patientId });
      const result = await runCommand(
        ctx,
        patientStream(input.patientId),
        patientDecider,
        {
          type: "UpdatePatientDemographics",
          data: { patientId: input.patientId, changes: input.changes, reason: input.reason },
          metadata: { now: new Date() },
        },
        { commandId: input.commandId, expectedVersion: input.expectedVersion, project: projectPatient },
      );
      return { version: result.version, changed: result.events.length > 0, repeated: result.repeated };
    }),

  recordAllergy: clinicianProcedure
    .input(allergyFormSchema.extend({ patientId, ...commandIdInput }))
    .mutation(async ({ ctx, input }) => {
      const { commandId, ...data } = input;
      const id = newAggregateId(commandId, "allergy");
      return { allergyId: id, ...(await runSafetyCommand(ctx, "patient.recordAllergy", { type: "RecordAllergy", data: { ...data, allergyId: id } }, commandId)) };
    }),

  /** The patient was asked: no known allergies (refused while an allergy is active). */
  recordNoKnownAllergies: clinicianProcedure
    .input(z.object({ patientId, ...commandIdInput }))
    .mutation(({ ctx, input }) => runSafetyCommand(ctx, "patient.recordNoKnownAllergies", { type: "RecordNoKnownAllergies", data: { patientId: input.patientId } }, input.commandId)),

  /** `refuted`: recorded in error; `resolved`: no longer present. Either way with a reason, and no longer checked. */
  closeAllergy: clinicianProcedure
    .input(z.object({ patientId, allergyId, outcome: z.enum(["refuted", "resolved"]), reason: allergyReasonSchema, ...commandIdInput }))
    .mutation(({ ctx, input }) =>
      runSafetyCommand(
        ctx,
        "patient.closeAllergy",
        { type: input.outcome === "refuted" ? "RefuteAllergy" : "ResolveAllergy", data: { patientId: input.patientId, allergyId: input.allergyId, reason: input.reason } },
        input.commandId,
      ),
    ),

  recordAlert: clinicianProcedure
    .input(alertFormSchema.extend({ patientId, ...commandIdInput }))
    .mutation(async ({ ctx, input }) => {
      const { commandId, ...data } = input;
      const id = newAggregateId(commandId, "alert");
      return { alertId: id, ...(await runSafetyCommand(ctx, "patient.recordAlert", { type: "RecordAlert", data: { ...data, alertId: id } }, commandId)) };
    }),

  resolveAlert: clinicianProcedure
    .input(z.object({ patientId, alertId, reason: allergyReasonSchema, ...commandIdInput }))
    .mutation(({ ctx, input }) =>
      runSafetyCommand(ctx, "patient.resolveAlert", { type: "ResolveAlert", data: { patientId: input.patientId, alertId: input.alertId, reason: input.reason } }, input.commandId),
    ),

  /**
   * The chart: demographics, open encounters, active and recent orders. A patient not in the
   * caller's care is refused (PRECONDITION_FAILED, kind "break_the_glass") until breakGlass.
   * `screen` says which screen opened it (the chart, or the demographics form).
   */
  byId: clinicianProcedure
    .input(z.object({ patientId, screen: z.enum(["chart", "edit"]).default("chart"), ...viewIdInput }))
    .query(async ({ ctx, input }) => {
      const chart = await patientChart(ctx.db.prisma, input.patientId);
      if (!chart) throw new NotFoundError("Patient", input.patientId);
      await requireChartAccessAndRecord(ctx, input.patientId, { procedure: "patient.byId", screen: input.screen, viewId: input.viewId });
      return chart;
    }),

  /**
   * Break the glass: open the chart of a patient not in the caller's care, stating why. The
   * grant, with its reason, waits for compliance review; it holds for a few hours.
   */
  breakGlass: clinicianProcedure
    .input(z.object({ patientId, reason: emergencyReasonInput }))
    .mutation(async ({ ctx, input }) => {
      const grant = await breakGlass(ctx, input.patientId, input.reason);
      return { ...grant, hours: EMERGENCY_ACCESS_HOURS };
    }),

  list: clinicianProcedure.input(patientSearchInput).query(({ ctx, input }) => searchPatients(ctx, input, "patient.list")),

  /** The record's events (patient, its encounters and orders), newest first, with who/why/what caused them. */
  history: clinicianProcedure
    .input(
      z.object({
        patientId,
        beforePosition: positionInput.optional(),
        limit: pageLimit(200, 50),
        ...viewIdInput,
      }),
    )
    .query(async ({ ctx, input }) => {
      const streams = await patientStreamIds(ctx.db.prisma, input.patientId);
      const events = await readStreamsBackwards(tolerantStore(ctx.store, { procedure: "patient.history", correlationId: ctx.correlationId }), streams, { beforePosition: input.beforePosition, limit: input.limit + 1 });
      if (events.length === 0 && !input.beforePosition) {
        const { version } = await loadAggregate(ctx.store, patientStream(input.patientId), patientDecider);
        if (version === 0) throw new NotFoundError("Patient", input.patientId);
      }
      await requireChartAccessAndRecord(ctx, input.patientId, { procedure: "patient.history", viewId: input.viewId });
      const page = events.slice(0, input.limit);
      return {
        items: await historyItems(ctx.db.prisma, page),
        nextBefore: events.length > input.limit ? (page.at(-1)?.globalPosition ?? null) : null,
      };
    }),

  /** What changed in the patient's own stream after the version a screen showed: the conflict view. */
  changesSince: clinicianProcedure
    .input(z.object({ patientId, sinceVersion: versionInput, ...viewIdInput }))
    .query(async ({ ctx, input }) => {
      await requireChartAccess(ctx, input.patientId);
      const events = await readStream(tolerantStore(ctx.store, { procedure: "patient.changesSince", correlationId: ctx.correlationId }), patientStream(input.patientId), { fromVersion: input.sinceVersion + 1, maxCount: 200 });
      await recordAccess(ctx, { patientIds: [input.patientId], procedure: "patient.changesSince", viewId: input.viewId });
      return { items: await historyItems(ctx.db.prisma, events) };
    }),
});
