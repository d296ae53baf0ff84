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

export const userEvents = [UserCreated, UserRolesChanged] as const;
export type UserEvent = EventOf<typeof userEvents>;

export const userStream = (id: string) => `user-${id}`;
