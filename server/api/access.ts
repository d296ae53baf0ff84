// The access matrix: which roles may call each tRPC procedure. server/api/access.int.test.ts walks
// the whole router and fails when a procedure is missing here, when this names one that does not
// exist, or when any role (or no session) gets a different answer than this file says.
//   "public"      anyone, signed in or not: health and sign-in only.
//   [roles...]    signed in and holding at least one of these roles.
// Clinicians run clinical commands and queries; compliance officers read history, timelines,
// time-travel views and access logs but change nothing clinical; admins operate projections,
// the outbox and users, and read metrics.
import type { Role } from "./context";

export type Access = "public" | readonly [Role, ...Role[]];

export const accessMatrix = {
  "system.health": "public",

  // Clinical commands and queries.
  "patient.register": ["clinician"],
  "patient.updateDemographics": ["clinician"],
  "patient.byId": ["clinician"],
  "patient.list": ["clinician"],
  "patient.history": ["clinician"],
  "patient.changesSince": ["clinician"],
  "patient.recordAllergy": ["clinician"],
  "patient.recordNoKnownAllergies": ["clinician"],
  "patient.closeAllergy": ["clinician"],
  "patient.recordAlert": ["clinician"],
  "patient.resolveAlert": ["clinician"],
  // Break the glass: only clinicians open charts, so only they state a reason to.
  "patient.breakGlass": ["clinician"],
  "encounter.start": ["clinician"],
  "encounter.complete": ["clinician"],
  "encounter.byId": ["clinician"],
  "encounter.listForPatient": ["clinician"],
  "order.create": ["clinician"],
  "order.changeStatus": ["clinician"],
  "order.byId": ["clinician"],
  "order.worklist": ["clinician"],

  // Read-access audit.
  "audit.accessLog": ["compliance"],
  "audit.readers": ["compliance"],
  "audit.userActivity": ["compliance"],
  "audit.users": ["compliance"],
  "audit.filterLabels": ["compliance"],
  // Emergency (break-the-glass) accesses and their reviews.
  "audit.emergencyAccesses": ["compliance"],
  "audit.emergencyReviewQueue": ["compliance"],
  "audit.reviewEmergencyAccess": ["compliance"],
  // History audit: the event log, one event's causes and effects, a record's timeline and time
  // travel. Compliance reads the history through these, not patient.history, so the access log
  // tells a compliance review apart from care.
  "audit.filterOptions": ["compliance"],
  "audit.events": ["compliance"],
  "audit.event": ["compliance"],
  "audit.patients": ["compliance"],
  "audit.patientTimeline": ["compliance"],
  "audit.patientAsOf": ["compliance"],
  "audit.recordAt": ["compliance"],
  "audit.recordDiff": ["compliance"],
  "audit.recordTicks": ["compliance"],
  // Tamper evidence: the newest seal, and verifying the whole log from the console.
  "audit.latestSeal": ["compliance"],
  "audit.startVerification": ["compliance"],
  "audit.verification": ["compliance"],
  "audit.exports": ["compliance"],

  // Reports over the async projections: order turnaround and the census for care, activity by
  // user and day for compliance (counts and names of staff, no patient data).
  "reports.turnaround": ["clinician"],
  "reports.census": ["clinician"],
  "reports.activity": ["compliance"],

  // Users and their roles.
  "users.list": ["admin"],
  "users.create": ["admin"],
  "users.setRoles": ["admin"],
  // A password reset, or a new link for an account whose link expired: the link is shown once.
  "users.issueEnrolmentLink": ["admin"],
  // The enrolment page: the user has no session yet; the link's token is the credential, and
  // attempts are limited per client address as sign-in's are.
  "enrolment.lookup": "public",
  "enrolment.complete": "public",

  // The outbox's lag and dead letters (no payloads), and putting a dead letter back in line.
  "admin.outbox": ["admin"],
  "admin.retryDeadLetter": ["admin"],
  "admin.setAsideDeadLetter": ["admin"],
  // Snapshots: figures (no state), a check against the events, a discard with a reason, the
  // historic snapshots long records lack written in batches.
  "admin.snapshots": ["admin"],
  "admin.checkSnapshots": ["admin"],
  "admin.discardSnapshots": ["admin"],
  "admin.writeHistoricSnapshots": ["admin"],
  "admin.findPatientForErasure": ["admin"],
  "admin.erasePatient": ["admin"],
  "admin.erasures": ["admin"],
  "observability.metricsHistory": ["admin"],
  "observability.schemaRegistry": ["admin"],

  // Projections: health, rebuilds with a reason, their progress and cancelling one.
  "projections.list": ["admin"],
  "projections.rebuild": ["admin"],
  "projections.rebuildProgress": ["admin"],
  "projections.cancelRebuild": ["admin"],
} as const satisfies Record<string, Access>;

/** Procedures that may be public at all; anything else marked public fails the test. */
export const publicAllowed: readonly string[] = ["system.health", "enrolment.lookup", "enrolment.complete"];
