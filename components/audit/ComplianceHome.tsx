"use client";
// A compliance officer's start: what waits for them (emergency accesses to review, sealing that
// is late), then every audit page under the name its tab and heading use.
import { useQuery } from "@tanstack/react-query";
import { HomeSection } from "../HomeSection";
import Link from "next/link";
import { DateTime } from "../DateTime";
import { counted } from "../format";
import { ErrorState, Loading } from "../States";
import { useTRPC } from "../trpc";
import { ageText, sealingWarnings } from "../../shared/audit/sealingHealth";
import { auditDestinations } from "./AuditNav";
import { errorText } from "./format";

function ReviewQueue() {
  const trpc = useTRPC();
  const queue = useQuery({ ...trpc.audit.emergencyReviewQueue.queryOptions(), refetchInterval: 60_000 });
  if (queue.isPending) return <Loading label="Loading the review queue" lines={["60%"]} />;
  if (queue.isError) return <ErrorState onRetry={() => void queue.refetch()}>The review queue could not be loaded: {errorText(queue.error)}</ErrorState>;
  const { needsReview, oldestGrantedAt } = queue.data;
  return (
    <p data-testid="home-review-queue" data-count={needsReview}>
      {needsReview === 0 ? (
        <>
          <span className="badge ok">none</span> No emergency access awaits review.
        </>
      ) : (
        <>
          <span className="badge warn">waiting</span>{" "}
          <Link href="/audit/emergency">{counted(needsReview, "emergency access", "emergency accesses")} to review</Link>
          {oldestGrantedAt ? (
            <span className="muted">
              , the oldest granted <DateTime value={oldestGrantedAt} precision="minute" />
            </span>
          ) : null}
          .
        </>
      )}
    </p>
  );
}

function SealingLine() {
  const trpc = useTRPC();
  const latest = useQuery({ ...trpc.audit.latestSeal.queryOptions(), refetchInterval: 60_000 });
  if (latest.isPending) return <Loading label="Loading the sealing status" lines={["50%"]} />;
  if (latest.isError) return <ErrorState onRetry={() => void latest.refetch()}>The sealing status could not be loaded: {errorText(latest.error)}</ErrorState>;
  const warnings = sealingWarnings(latest.data);
  const { backlog } = latest.data;
  return (
    <p data-testid="home-sealing" data-late={warnings.length > 0 ? "true" : "false"}>
      {warnings.length > 0 ? (
        <>
          <span className="badge warn">late</span> <Link href="/audit/integrity">Sealing</Link>: {warnings[0]}
          {warnings.length > 1 ? <> (and {counted(warnings.length - 1, "more warning")} on Integrity)</> : null}.
        </>
      ) : !latest.data.seal ? (
        <>
          <span className="badge info">not yet</span> Nothing is sealed yet
          {backlog.events > 0 ? <>: {counted(backlog.events, "event")} waiting for the first seal</> : null}.
        </>
      ) : (
        <>
          <span className="badge ok">sealed</span> The log is sealed
          {latest.data.sealedThrough ? (
            <>
              {" "}
              through <DateTime value={latest.data.sealedThrough} precision="minute" />
            </>
          ) : null}
          {backlog.events > 0 ? (
            <span className="muted">
              {" "}
              ({backlog.capped ? `${backlog.events.toLocaleString("en-US")}+ newer events` : counted(backlog.events, "newer event")} waiting, the oldest{" "}
              {ageText(backlog.oldestSeconds)})
            </span>
          ) : null}
          .
        </>
      )}
    </p>
  );
}

export function ComplianceHome() {
  return (
    <HomeSection
      id="home-audit"
      title="Audit"
      testId="compliance-home"
      waiting={
        <>
          <ReviewQueue />
          <SealingLine />
        </>
      }
      destinations={auditDestinations}
    />
  );
}
