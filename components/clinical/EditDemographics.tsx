"use client";
// Correcting demographics: only changed fields are sent, with a reason and the version the form
// was opened on. When someone else saved first, the server refuses (CONFLICT); this screen shows
// what they changed and re-bases the user's own edits onto the latest version.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useEffect, useMemo, useRef, useState, type ReactNode, type Ref } from "react";
import type { UseFormReturn } from "react-hook-form";
import { errorOf, formAlert, useSchemaForm } from "@/components/forms/useSchemaForm";
import { Loading, RefreshFailed } from "@/components/States";
import { useTRPC } from "@/components/trpc";
import { editDemographicsFormFor, type DemographicField, type DemographicsForm, type EditDemographicsForm } from "@/shared/clinical/patients";
import { ClinicalNav } from "./ClinicalNav";
import { DemographicsFields } from "./DemographicsFields";
import { changedFields, changesBetween, formKeyOfPath, rebase, toForm } from "./demographics";
import { errorText, friendlyMessage, isConflict, readError, ruleOf } from "./errors";
import { Field, FormError, fieldProps } from "./form";
import { demographicLabels } from "@/components/format";
import { fullName } from "./format";
import { HistoryEvent } from "./HistoryEvent";
import { BreakGlassDialog, needsBreakGlass } from "./BreakGlass";
import { Crumbs, PatientLoadError } from "./PageParts";
import { SafetyBanner } from "./SafetyBanner";
import { useNow } from "./useNow";
import type { ChartPatient } from "./types";
import { useChartRefresh } from "./useChartRefresh";
import { useLeaveGuard } from "@/components/forms/leaveGuard";

export function EditDemographics({ patientId }: { patientId: string }) {
  const trpc = useTRPC();
  const [viewId] = useState(() => crypto.randomUUID());
  const now = useNow();
  const chart = useQuery({
    ...trpc.patient.byId.queryOptions({ patientId, screen: "edit", viewId }),
  });
  return (
    <>
      <ClinicalNav />
      {chart.data ? (
        // Mounted once with the record as it was when the form opened: later refetches of the
        // chart (or a failed one) must not move the form's base version or lose the user's edits.
        <EditForm
          patient={chart.data.patient}
          banner={
            <>
              {chart.isRefetchError ? (
                // The form keeps the version it opened on; this says the record around it may be older than the server's.
                <RefreshFailed
                  what="the record"
                  loadedAt={new Date(chart.dataUpdatedAt)}
                  error={errorText(chart.error)}
                  onRetry={() => void chart.refetch()}
                  testId="edit-refresh-failed"
                />
              ) : null}
              <SafetyBanner patient={chart.data.patient} openEncounters={chart.data.openEncounters} now={now} />
            </>
          }
        />
      ) : chart.isError && needsBreakGlass(chart.error) ? (
        <BreakGlassDialog patientId={patientId} onGranted={() => void chart.refetch()} />
      ) : chart.isError ? (
        <PatientLoadError error={chart.error} what="the record" onRetry={() => void chart.refetch()} />
      ) : (
        <Loading label="Loading the record" className="panel form-narrow" lines={[{ width: "40%", height: 22 }, "80%", "70%", "75%"]} />
      )}
    </>
  );
}

type Conflict = { expectedVersion: number; actualVersion: number | null };
type Rebased = { from: number; to: number; kept: DemographicField[]; overlap: DemographicField[] };

const reasonHint = "Required. Kept in the record's history, e.g. “patient corrected spelling”.";

const names = (fields: DemographicField[]) => fields.map((f) => demographicLabels[f] ?? f).join(", ");

function EditForm({ patient, banner }: { patient: ChartPatient; banner: ReactNode }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const router = useRouter();
  const refresh = useChartRefresh(patient.patientId);
  const saveRef = useRef<HTMLButtonElement>(null);
  const conflictRef = useRef<HTMLDivElement>(null);
  const patientId = patient.patientId;

  const [session, setSession] = useState(() => ({ base: toForm(patient), expectedVersion: patient.version }));
  const [edits, setEdits] = useState<DemographicField[]>([]);
  // The fields the user changed decide what is checked, and whether a reason is required.
  const schema = useMemo(() => editDemographicsFormFor(new Set(edits)), [edits]);
  const { form, commandId, formError, setFormError, failFromServer, markSaved } = useSchemaForm(schema, { ...toForm(patient), reason: "" });
  const errors = form.formState.errors as Record<string, unknown>;
  const [notice, setNotice] = useState<string | null>(null);
  const [conflict, setConflict] = useState<Conflict | null>(null);
  const [rebased, setRebased] = useState<Rebased | null>(null);
  const [retrying, setRetrying] = useState(false);

  useEffect(() => {
    // Each edit: what differs from the version being edited, and any "nothing changed" note goes.
    const update = (values: EditDemographicsForm) => {
      const next = changedFields(session.base, values);
      setEdits((now) => (now.join() === next.join() ? now : next));
    };
    update(form.getValues());
    return form.subscribe({
      formState: { values: true },
      callback: ({ values }) => {
        setNotice(null);
        update(values as EditDemographicsForm);
      },
    });
  }, [form, session.base]);
  useEffect(() => {
    if (conflict) conflictRef.current?.focus();
  }, [conflict]);
  useEffect(() => {
    if (rebased) saveRef.current?.focus();
  }, [rebased]);

  const edited = edits;

  const update = useMutation(
    trpc.patient.updateDemographics.mutationOptions({
      onSuccess: async (result, sent) => {
        commandId.reset();
        await refresh(trpc.patient.list.pathKey());
        // A re-sent command that changed nothing: its earlier send saved the edits.
        if (!result.changed && !commandId.resent(sent.commandId)) {
          setNotice("The record already has these values: nothing was saved.");
          // Nothing to lose by leaving: what is typed is what the record holds.
          form.reset(form.getValues());
          return;
        }
        markSaved();
        router.push(`/patients/${patientId}?saved=updated`);
      },
      onError: (error) => {
        const e = readError(error);
        if (isConflict(e)) {
          const actual = e.domain?.kind === "concurrency" ? e.domain.actualVersion : null;
          setConflict({ expectedVersion: session.expectedVersion, actualVersion: actual });
          setFormError(null);
          return;
        }
        failFromServer(error, (_, marked) => (Object.keys(marked).length > 0 ? "Nothing was saved. Check the highlighted fields." : friendlyMessage(e)), {
          keyOf: formKeyOfPath,
          fields: (err) => ({ dateOfBirth: ruleOf(err) === "patient.dob_in_future" ? "The date of birth cannot be in the future." : undefined }),
        });
      },
    }),
  );

  // Edits re-based onto the latest version are unsaved although the form was reset to them.
  useLeaveGuard(rebased !== null && !update.isSuccess);

  const onSubmit = form.handleSubmit(({ reason, ...values }) => {
    if (update.isPending || conflict) return;
    setFormError(null);
    const changes = changesBetween(session.base, values);
    if (Object.keys(changes).length === 0) {
      setNotice("Nothing changed: edit a field before saving.");
      return;
    }
    setNotice(null);
    update.mutate(commandId.stamped({ patientId, expectedVersion: session.expectedVersion, changes, reason: reason.trim() }));
  });

  const retryOnLatest = async () => {
    setRetrying(true);
    try {
      await queryClient.invalidateQueries({ queryKey: trpc.patient.byId.queryKey({ patientId }) });
      const fresh = await queryClient.fetchQuery({ ...trpc.patient.byId.queryOptions({ patientId, screen: "edit" }), staleTime: 0 });
      const latest = toForm(fresh.patient);
      const { reason, ...values } = form.getValues();
      const mine = changedFields(session.base, values);
      const theirs = new Set(changedFields(session.base, latest));
      form.reset({ ...rebase(session.base, values, latest), reason });
      setRebased({
        from: session.expectedVersion,
        to: fresh.patient.version,
        kept: mine,
        overlap: mine.filter((f) => theirs.has(f)),
      });
      setSession({ base: latest, expectedVersion: fresh.patient.version });
      setConflict(null);
      commandId.reset();
    } catch (error) {
      setFormError(`Could not load the latest version: ${errorText(error)}`);
    } finally {
      setRetrying(false);
    }
  };

  return (
    <>
      <Crumbs via={{ href: `/patients/${patientId}`, label: fullName(patient) }} current="Edit demographics" />
      <h1>Edit demographics</h1>
      <p className="subtitle">
        {fullName(patient)} · MRN: <span className="mono">{patient.mrn}</span> (cannot be changed) · editing version{" "}
        <span className="badge info" data-testid="editing-version">
          v{session.expectedVersion}
        </span>
      </p>
      {banner}

      {conflict ? (
        <ConflictPanel
          ref={conflictRef}
          patientId={patientId}
          conflict={conflict}
          mine={edited}
          retrying={retrying}
          onRetry={() => void retryOnLatest()}
        />
      ) : null}

      {rebased ? (
        <div className="alert ok" role="status" data-testid="rebased">
          <p>
            Now editing version {rebased.to} (you started on version {rebased.from}).{" "}
            {rebased.kept.length > 0 ? <>Your edits are kept: {names(rebased.kept)}. </> : null}
            Review them, then save.
          </p>
          {rebased.overlap.length > 0 ? (
            <p className="strong">
              Also changed by someone else: {names(rebased.overlap)}. Saving replaces their value with yours.
            </p>
          ) : null}
        </div>
      ) : null}

      <form className="stack panel form-narrow" onSubmit={onSubmit} noValidate aria-labelledby="edit-title">
        <h2 id="edit-title" className="sr-only">
          Demographics
        </h2>
        <FormError message={formAlert(formError, errors)} />
        {notice ? (
          <div className="alert warn" role="status">
            {notice}
          </div>
        ) : null}
        <DemographicsFields form={form as unknown as UseFormReturn<DemographicsForm>} edited={new Set(edited)} />
        <Field id="reason" label="Reason for the change" error={errorOf(errors, "reason")} hint={reasonHint} required>
          <textarea {...fieldProps("reason", errorOf(errors, "reason"), reasonHint)} {...form.register("reason")} rows={2} maxLength={500} required />
        </Field>
        <div className="actions">
          <button ref={saveRef} type="submit" disabled={update.isPending || conflict !== null}>
            {update.isPending ? "Saving…" : "Save changes"}
          </button>
          <Link className="button secondary" href={`/patients/${patientId}`}>
            Cancel
          </Link>
          <span className="muted small" aria-live="polite">
            {edited.length > 0 ? `Changed: ${names(edited)}` : "No changes yet"}
          </span>
        </div>
      </form>
    </>
  );
}

function ConflictPanel({
  ref,
  patientId,
  conflict,
  mine,
  retrying,
  onRetry,
}: {
  ref: Ref<HTMLDivElement>;
  patientId: string;
  conflict: Conflict;
  mine: DemographicField[];
  retrying: boolean;
  onRetry: () => void;
}) {
  const trpc = useTRPC();
  const changes = useQuery(trpc.patient.changesSince.queryOptions({ patientId, sinceVersion: conflict.expectedVersion }, { staleTime: 0 }));
  const theirs = new Set<string>();
  for (const item of changes.data?.items ?? []) {
    const c = (item.data as { changes?: Record<string, unknown> }).changes;
    if (c) for (const k of Object.keys(c)) theirs.add(k);
  }
  const overlap = mine.filter((f) => theirs.has(f));

  return (
    <div ref={ref} tabIndex={-1} className="alert warn conflict" role="alert" aria-labelledby="conflict-title" data-testid="conflict">
      <h2 id="conflict-title">This chart changed since you opened it</h2>
      <p>
        You opened version {conflict.expectedVersion}; the record is now at version {conflict.actualVersion ?? "a later one"}. Nothing of yours was
        saved, and your edits are still in the form below.
      </p>
      {changes.isPending ? (
        <Loading label="Loading what changed" lines={["50%", "70%"]} />
      ) : changes.isError ? (
        <p className="error-text">Could not load what changed: {errorText(changes.error)}</p>
      ) : (
        <>
          <h3 className="subhead">What changed</h3>
          <ol className="events compact">
            {changes.data.items.map((item) => (
              <HistoryEvent key={item.eventId} item={item} headingLevel={4} />
            ))}
          </ol>
        </>
      )}
      {overlap.length > 0 ? (
        <p className="strong">You also edited {names(overlap)}: check those values before saving again.</p>
      ) : null}
      <div className="actions">
        <button type="button" onClick={onRetry} disabled={retrying}>
          {retrying ? "Loading the latest version…" : "Review and retry on the latest version"}
        </button>
        <Link className="button secondary" href={`/patients/${patientId}`}>
          Discard my edits
        </Link>
      </div>
    </div>
  );
}
