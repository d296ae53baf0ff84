// Proves the access matrix by calling every procedure of the router as every kind of caller.
import { TRPCError } from "@trpc/server";
import { describe, expect, it } from "vitest";
import { describeEachDatabase } from "../testing/db";
import { callerFor } from "../testing/caller";
import { accessMatrix, publicAllowed, type Access } from "./access";
import type { Role } from "./context";
import { appRouter } from "./root";

// Flat at run time: "patient.byId" -> procedure.
const procedures = appRouter._def.procedures as unknown as Record<string, { _def: { type: string } }>;
const matrix: Record<string, Access> = accessMatrix;

const callers: { name: string; roles: Role[] | null }[] = [
  { name: "no session", roles: null },
  { name: "signed in, no role", roles: [] },
  { name: "clinician", roles: ["clinician"] },
  { name: "compliance", roles: ["compliance"] },
  { name: "admin", roles: ["admin"] },
];

function expected(access: Access, roles: Role[] | null): "allowed" | "UNAUTHORIZED" | "FORBIDDEN" {
  if (access === "public") return "allowed";
  if (roles === null) return "UNAUTHORIZED";
  return access.some((r) => roles.includes(r)) ? "allowed" : "FORBIDDEN";
}

type Callable = (input?: unknown) => Promise<unknown>;
function procedureOf(caller: unknown, path: string): Callable {
  return path.split(".").reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], caller) as Callable;
}

/** What a call with no input gives: "allowed" unless the tier refused it. */
async function outcome(call: Callable): Promise<string> {
  try {
    await call(undefined);
    return "allowed";
  } catch (error) {
    if (!(error instanceof TRPCError)) throw error;
    return error.code === "UNAUTHORIZED" || error.code === "FORBIDDEN" ? error.code : "allowed";
  }
}

describe("the access matrix", () => {
  const paths = Object.keys(procedures).sort();

  it("lists every procedure of the router, and only those", () => {
    const missing = paths.filter((p) => !(p in matrix));
    const unknown = Object.keys(matrix).filter((p) => !(p in procedures));
    expect({ missing, unknown }).toEqual({ missing: [], unknown: [] });
  });

  it("makes public only what may be public (health and sign-in)", () => {
    const open = Object.entries(matrix).filter(([, a]) => a === "public").map(([p]) => p);
    expect(open.filter((p) => !publicAllowed.includes(p))).toEqual([]);
  });

  it("has no subscriptions, which this test could not call", () => {
    expect(paths.filter((p) => procedures[p]?._def.type === "subscription")).toEqual([]);
  });
});

describeEachDatabase("every procedure x every role", (db) => {
  it("answers exactly as the access matrix says", async () => {
    const mismatches: string[] = [];
    for (const path of Object.keys(procedures).sort()) {
      const access = matrix[path];
      if (!access) continue; // reported by the test above
      for (const { name, roles } of callers) {
        const got = await outcome(procedureOf(callerFor(db(), roles), path));
        const want = expected(access, roles);
        if (got !== want) mismatches.push(`${path} as ${name}: got ${got}, want ${want}`);
      }
    }
    expect(mismatches).toEqual([]);
  });

  it("lets a user with every role call everything", async () => {
    const all = callerFor(db(), ["clinician", "compliance", "admin"]);
    const refused: string[] = [];
    for (const path of Object.keys(procedures)) {
      const got = await outcome(procedureOf(all, path));
      if (got !== "allowed") refused.push(`${path}: ${got}`);
    }
    expect(refused).toEqual([]);
  });
});
