// Who may do what is part of the record too: admins' changes to users are events, so the audit
// log answers "who gave this person the clinician role, and when".
import { z } from "zod";
import { defineEvent, type EventOf } from "../../eventStore/serializer";
import { noPhi } from "../../eventStore/phi";
import { text } from "../../input";
import { userIdSchema } from "../common";

const roleNames = z.array(z.enum(["clinician", "compliance", "admin"])).max(3);

export const UserCreated = defineEvent(
  "UserCreated",
  z.object({ userId: userIdSchema, email: z.email().max(254), name: text(100, { min: 1 }), roles: roleNames }),
  // Staff identity, not a patient's health information; erasure is per patient.
  { phi: noPhi },
);

export const UserRolesChanged = defineEvent(
  "UserRolesChanged",
  // v2 adds reason: why the admin changed them. v1 events were recorded before it was asked for
  // and have none; v2's schema allows that, so they upcast unchanged.
  z.object({ userId: userIdSchema, previousRoles: roleNames, roles: roleNames, reason: z.string().trim().min(1).max(500).optional() }),
  { version: 2, upcasters: { 1: (v1) => v1 }, phi: noPhi },
);

// Enrolment links (server/api/enrolment.ts): an admin issues one, the user sets their own
// password with it. The events say who issued it, for whom, until when, and when it was used;
// never the token, nor its hash.
export const UserEnrolmentIssued = defineEvent(
  "UserEnrolmentIssued",
  z.object({
    userId: userIdSchema,
    expiresAt: z.iso.datetime(),
    /** "created": with the account; "reset": an admin reset the password (the old one stopped working); "reissued": the previous link had not been used. */
    cause: z.enum(["created", "reset", "reissued"]),
    reason: z.string().trim().min(1).max(500).optional(),
  }),
  { phi: noPhi },
);

export const UserEnrolled = defineEvent("UserEnrolled", z.object({ userId: userIdSchema }), { phi: noPhi });

export const userEvents = [UserCreated, UserRolesChanged, UserEnrolmentIssued, UserEnrolled] as const;
export type UserEvent = EventOf<typeof userEvents>;

export const userStream = (id: string) => `user-${id}`;
