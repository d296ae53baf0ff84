"use client";
// An admin's start: what needs them now (dead letters, an outbox falling behind, a projection
// failed, stalled or needing a rebuild), then every admin page under the name its tab uses.
import { useQuery } from "@tanstack/react-query";
import { HomeSection } from "../HomeSection";
import Link from "next/link";
import { counted } from "../format";
import { ErrorState, Loading } from "../States";
import { useTRPC } from "../trpc";
import { ageText } from "../../shared/audit/sealingHealth";
import { errorText } from "../clinical/errors";
import { adminDestinations } from "./AdminNav";

/** An outbox row older than this is worth a look: the worker drains a healthy outbox within seconds. */
const OUTBOX_SLOW_SECONDS = 60;

function OutboxLine() {
  const trpc = useTRPC();
  const outbox = useQuery({ ...trpc.admin.outbox.queryOptions(), refetchInterval: 15_000 });
  if (outbox.isPending) return <Loading label="Loading the outbox" lines={["55%"]} />;
  if (outbox.isError) return <ErrorState onRetry={() => void outbox.refetch()}>The outbox could not be loaded: {errorText(outbox.error)}</ErrorState>;
  const { pending, lagSeconds, deadLettered, heldBehindDeadLetters } = outbox.data;
  const slow = pending > 0 && lagSeconds > OUTBOX_SLOW_SECONDS;
  const trouble = deadLettered > 0 || slow;
  return (
    <p data-testid="home-outbox" data-dead={deadLettered} data-trouble={trouble ? "true" : "false"}>
      <span className={trouble ? "badge warn" : "badge ok"}>{deadLettered > 0 ? "dead letters" : slow ? "slow" : "flowing"}</span>{" "}
      <Link href="/admin#outbox">Outbox</Link>:{" "}
      {deadLettered > 0 ? (
        <>
          {counted(deadLettered, "dead letter")} to retry or set aside
          {heldBehindDeadLetters > 0 ? <>, {counted(heldBehindDeadLetters, "event")} held behind them</> : null}
          {pending > 0 ? <>; {pending.toLocaleString("en-US")} waiting</> : null}.
        </>
      ) : pending === 0 ? (
        <>nothing waiting.</>
      ) : (
        <>
          {counted(pending, "event")} waiting, the oldest for {ageText(lagSeconds)}
          {slow ? <> (more than {ageText(OUTBOX_SLOW_SECONDS)}: is a worker running, and the message bus reachable?)</> : null}.
        </>
      )}
    </p>
  );
}

const troubleWords: Record<string, string> = {
  failed: "failed",
  rebuild_stalled: "rebuild stalled",
  needs_rebuild: "needs a rebuild",
};

function ProjectionsLine() {
  const trpc = useTRPC();
  const list = useQuery({ ...trpc.projections.list.queryOptions(), refetchInterval: 15_000 });
  if (list.isPending) return <Loading label="Loading the projections" lines={["55%"]} />;
  if (list.isError) return <ErrorState onRetry={() => void list.refetch()}>The projections could not be loaded: {errorText(list.error)}</ErrorState>;
  const trouble = list.data.filter((p) => p.state in troubleWords);
  const rebuilding = list.data.filter((p) => p.state === "rebuilding");
  const behind = list.data.filter((p) => p.state === "behind");
  return (
    <p data-testid="home-projections" data-trouble={trouble.length}>
      <span className={trouble.length > 0 ? "badge warn" : "badge ok"}>{trouble.length > 0 ? "attention" : "running"}</span>{" "}
      <Link href="/admin/projections">Projections</Link>:{" "}
      {trouble.length > 0 ? (
        <>{trouble.map((p) => `${p.name} ${troubleWords[p.state]}`).join(", ")}.</>
      ) : (
        <>
          all {list.data.length} running
          {behind.length > 0 ? <>, {behind.map((p) => `${p.name} ${counted(p.lagEvents, "event")} behind`).join(", ")}</> : <>, up to date with the log</>}
          {rebuilding.length > 0 ? <>; {rebuilding.map((p) => p.name).join(", ")} rebuilding</> : null}.
        </>
      )}
    </p>
  );
}

export function AdminHome() {
  return (
    <HomeSection
      id="home-admin"
      title="Operations"
      testId="admin-home"
      waiting={
        <>
          <OutboxLine />
          <ProjectionsLine />
        </>
      }
      destinations={adminDestinations}
    />
  );
}
