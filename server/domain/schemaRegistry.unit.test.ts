// The schema registry and schema:check: a stored event's shape cannot change without a version
// bump and an upcaster.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { defineEvent, type EventDefinition } from "../eventStore/serializer";
import { PatientRegistered } from "./patient/events";
import { eventDefinitions } from "./registry";
import { checkSchemas, eventExamples, schemaEntries, snapshotOf, type SchemaSnapshot } from "./schemaRegistry";

const snapshotFile = join(process.cwd(), "server", "domain", "schemas.snapshot.json");
const committed = JSON.parse(readFileSync(snapshotFile, "utf8")) as SchemaSnapshot;
const withPatientRegistered = (replacement: EventDefinition) => eventDefinitions.map((d) => (d.type === "PatientRegistered" ? replacement : d));
const patientShape = (PatientRegistered.schema as unknown as z.ZodObject).shape;

describe("the event schema registry", () => {
  it("lists every registered event type with its version, JSON Schema and a valid example", () => {
    const entries = schemaEntries();
    expect(entries.map((e) => e.type).sort()).toEqual(eventDefinitions.map((d) => d.type).sort());
    for (const entry of entries) {
      const definition = eventDefinitions.find((d) => d.type === entry.type)!;
      expect(entry.jsonSchema.type).toBe("object");
      expect(entry.example, entry.type).not.toBeNull();
      expect(definition.schema.safeParse(eventExamples[entry.type]).success, entry.type).toBe(true);
      expect(entry.upcasters.map((u) => u.from)).toEqual(Array.from({ length: definition.version - 1 }, (_, i) => i + 1));
    }
    expect(entries.find((e) => e.type === "PatientRegistered")?.upcasters[0]?.note).toMatch(/givenName/);
  });

  it("passes when nothing changed: the committed snapshot is up to date", () => {
    expect(checkSchemas(eventDefinitions, committed)).toEqual([]);
  });

  it("fails a schema changed without a version bump", () => {
    const changed = defineEvent("PatientRegistered", z.object({ ...patientShape, nickname: z.string() }), {
      version: PatientRegistered.version,
      upcasters: PatientRegistered.upcasters,
    });
    const problems = checkSchemas(withPatientRegistered(changed), committed);
    expect(problems).toEqual([expect.objectContaining({ type: "PatientRegistered", kind: "illegal" })]);
    expect(problems[0]?.message).toMatch(/bump the version/);
  });

  it("fails a bump without an upcaster, and asks for --update after a proper one", () => {
    const bumpedBare: EventDefinition = { ...PatientRegistered, version: PatientRegistered.version + 1 };
    expect(checkSchemas(withPatientRegistered(bumpedBare), committed)).toEqual([expect.objectContaining({ kind: "illegal" })]);
    const bumped = defineEvent("PatientRegistered", z.object({ ...patientShape, nickname: z.string().default("") }), {
      version: PatientRegistered.version + 1,
      upcasters: { ...PatientRegistered.upcasters, [PatientRegistered.version]: (d) => ({ ...d, nickname: "" }) },
    });
    expect(checkSchemas(withPatientRegistered(bumped), committed)).toEqual([expect.objectContaining({ kind: "record" })]);
    // Once recorded, it passes.
    expect(checkSchemas(withPatientRegistered(bumped), snapshotOf(withPatientRegistered(bumped)))).toEqual([]);
  });

  it("fails a removed event type", () => {
    const without = eventDefinitions.filter((d) => d.type !== "UserRolesChanged");
    expect(checkSchemas(without, committed)).toEqual([expect.objectContaining({ type: "UserRolesChanged", kind: "illegal" })]);
  });

  it("npm run schema:check exits 1 against a copy whose schema differs, 0 against an unchanged copy", () => {
    const dir = mkdtempSync(join(tmpdir(), "schema-check-"));
    try {
      const run = (file: string) =>
        spawnSync(process.execPath, ["--import", "tsx", "server/cli/schemaCheck.ts", `--snapshot=${file}`], { encoding: "utf8", cwd: process.cwd() });
      const same = join(dir, "same.json");
      writeFileSync(same, JSON.stringify(committed));
      const ok = run(same);
      expect(ok.status, ok.stdout + ok.stderr).toBe(0);

      // The copy remembers OrderCreated without its `priority`: the current one then differs at the same version.
      const changed = structuredClone(committed);
      const props = changed.OrderCreated!.jsonSchema.properties as Record<string, unknown>;
      delete props.priority;
      const file = join(dir, "changed.json");
      writeFileSync(file, JSON.stringify(changed));
      const failed = run(file);
      expect(failed.status).toBe(1);
      expect(failed.stdout).toMatch(/OrderCreated: the schema changed but its version is still v1/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
