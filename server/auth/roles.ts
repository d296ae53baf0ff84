// The console's roles. A user may hold several.
import { z } from "zod";

export const roles = ["clinician", "compliance", "admin"] as const;
export type Role = (typeof roles)[number];
export const roleSchema = z.enum(roles);

export type SessionUser = { id: string; email: string; name: string; roles: Role[] };

export function isRole(value: unknown): value is Role {
  return typeof value === "string" && (roles as readonly string[]).includes(value);
}
