import { createHash } from "node:crypto";

/**
 * A uuid (version 5 layout: name-based, SHA hashed) derived from a name: the same name always
 * gives the same id. Used for event ids from command ids, and for ids the demo data makes.
 */
export function uuidFromName(name: string): string {
  const h = createHash("sha256").update(name).digest("hex");
  const variant = ((parseInt(h.slice(16, 17), 16) & 0x3) | 0x8).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
