// prisma/schema.prisma declares every table and index the migrations create: `prisma migrate dev`
// drops whatever a database has and the schema lacks. The migrated database's indexes
// (pg_index) are compared with the schema's @id, @unique, @@id, @@unique and @@index, by name
// and columns; the few that Prisma cannot express are allowed below, each with its reason.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { describeEachDatabase } from "../server/testing/db";

/** In the database, not declarable in schema.prisma. Keep each reason true. */
const notExpressibleInPrisma: Record<string, string> = {
  rm_patients_sort_idx: "covering index on (sort_key, patient_id) INCLUDE (search_text) WHERE erased_at IS NULL: Prisma cannot declare INCLUDE columns",
  rm_patients_duplicate_idx: "partial expression index on (date_of_birth, emr_fold(family_name)) WHERE erased_at IS NULL: Prisma cannot declare expression indexes",
  access_log_view_key: "partial unique expression index on (user_id, patient_id, view_id, COALESCE(screen, procedure), date_trunc('hour', accessed_at AT TIME ZONE 'UTC')): Prisma cannot declare expression indexes",
};

type IndexShape = { table: string; name: string; columns: string[]; unique: boolean; primary: boolean; partial: boolean };
type Model = { name: string; table: string; columnOf: Map<string, string>; fieldOf: Map<string, string> };

/** The text between the first `[` and its matching `]`, split at top-level commas. */
function bracketList(text: string): string[] {
  const start = text.indexOf("[");
  let depth = 0;
  let current = "";
  const items: string[] = [];
  for (let i = start + 1; i < text.length; i++) {
    const c = text[i]!;
    if (c === "[" || c === "(") depth++;
    if (c === ")") depth--;
    if (c === "]" && depth === 0) break;
    if (c === "]") depth--;
    if (c === "," && depth === 0) {
      items.push(current.trim());
      current = "";
    } else current += c;
  }
  if (current.trim()) items.push(current.trim());
  // `startedAt(sort: Desc)` and `mrn(ops: raw("..."))` name the field first.
  return items.map((item) => /^\w+/.exec(item)![0]);
}

const mapArg = (text: string) => /map:\s*"([^"]+)"/.exec(text)?.[1];

/** The schema's models and their declared indexes, with Prisma's default names where none is given. */
function declaredIndexes(schema: string): { models: Model[]; indexes: IndexShape[] } {
  const models: Model[] = [];
  const indexes: IndexShape[] = [];
  for (const [, name, body] of schema.matchAll(/^model (\w+) \{([\s\S]*?)^\}/gm)) {
    const lines = body!.split("\n").map((l) => l.replace(/\/\/.*$/, "").trim()).filter(Boolean);
    const table = lines.map((l) => /^@@map\("([^"]+)"\)/.exec(l)?.[1]).find(Boolean) ?? name!;
    const model: Model = { name: name!, table, columnOf: new Map(), fieldOf: new Map() };
    models.push(model);
    const fieldLines = lines.filter((l) => !l.startsWith("@@"));
    for (const line of fieldLines) {
      const [, field] = /^(\w+)\s/.exec(line) ?? [];
      if (!field) continue;
      const column = /@map\("([^"]+)"\)/.exec(line)?.[1] ?? field;
      model.columnOf.set(field, column);
      model.fieldOf.set(column, field);
    }
    const col = (field: string) => model.columnOf.get(field) ?? field;
    for (const line of fieldLines) {
      const [, field] = /^(\w+)\s/.exec(line) ?? [];
      if (!field) continue;
      const id = /@id\b(\([^)]*\))?/.exec(line);
      if (id) indexes.push({ table, name: mapArg(id[1] ?? "") ?? `${table}_pkey`, columns: [col(field)], unique: true, primary: true, partial: false });
      const unique = /@unique\b(\([^)]*\))?/.exec(line);
      if (unique) {
        const name = mapArg(unique[1] ?? "") ?? `${table}_${col(field)}_key`;
        indexes.push({ table, name, columns: [col(field)], unique: true, primary: false, partial: false });
      }
    }
    for (const line of lines.filter((l) => /^@@(id|unique|index)\(/.test(l))) {
      const kind = /^@@(\w+)/.exec(line)![1]!;
      const columns = bracketList(line).map(col);
      const suffix = kind === "id" ? "pkey" : kind === "unique" ? "key" : "idx";
      const name = mapArg(line.slice(line.lastIndexOf("]"))) ?? (kind === "id" ? `${table}_pkey` : `${table}_${columns.join("_")}_${suffix}`);
      indexes.push({ table, name, columns, unique: kind !== "index", primary: kind === "id", partial: /\bwhere:/.test(line) });
    }
  }
  return { models, indexes };
}

type DbIndex = IndexShape & { predicate: string | null; definition: string; opclasses: string[] };

const indexQuery = `
  SELECT t.relname AS "table", i.relname AS name, ix.indisprimary AS "primary", ix.indisunique AS "unique",
         pg_get_expr(ix.indpred, ix.indrelid) AS predicate, pg_get_indexdef(ix.indexrelid) AS definition,
         array(SELECT coalesce(a.attname::text, '(expression)')
                 FROM unnest(ix.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
                 LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
                ORDER BY k.ord) AS columns,
         array(SELECT CASE WHEN oc.opcdefault THEN '' ELSE oc.opcname::text END
                 FROM unnest(ix.indclass::oid[]) WITH ORDINALITY AS c(oid, ord)
                 JOIN pg_opclass oc ON oc.oid = c.oid
                ORDER BY c.ord) AS opclasses
    FROM pg_index ix
    JOIN pg_class i ON i.oid = ix.indexrelid
    JOIN pg_class t ON t.oid = ix.indrelid
    JOIN pg_namespace n ON n.oid = t.relnamespace
   WHERE n.nspname = current_schema() AND t.relname <> '_prisma_migrations'
   ORDER BY 1, 2`;

const tableQuery = `
  SELECT c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND c.relname <> '_prisma_migrations'
   ORDER BY 1`;

/** What to write in schema.prisma for an index the schema lacks. */
function declaration(index: DbIndex, models: Model[]): string {
  const model = models.find((m) => m.table === index.table);
  if (index.columns.includes("(expression)")) {
    return `${index.name} (${index.definition}): an expression index, which Prisma cannot declare; add it to notExpressibleInPrisma in prisma/schema.int.test.ts with the reason, and to the comment at the top of schema.prisma`;
  }
  // A column with a non-default operator class (text_pattern_ops) says so: field(ops: raw("...")).
  const fields = index.columns.map((c, i) => {
    const field = model?.fieldOf.get(c) ?? c;
    const ops = index.opclasses[i];
    return ops ? `${field}(ops: raw("${ops}"))` : field;
  });
  const attribute = index.primary ? "@@id" : index.unique ? "@@unique" : "@@index";
  const where = index.predicate ? `, where: raw(${JSON.stringify(index.predicate)})` : "";
  return `${index.name}: in model ${model?.name ?? `<a new model with @@map("${index.table}")>`}, declare ${attribute}([${fields.join(", ")}], map: "${index.name}"${where})   -- from: ${index.definition}`;
}

describeEachDatabase("schema.prisma against the migrated database", (db) => {
  const schema = readFileSync(join(import.meta.dirname, "schema.prisma"), "utf8");
  const { models, indexes: declared } = declaredIndexes(schema);

  it("parses the schema's declarations (a guard for the parser itself)", () => {
    expect(declared).toContainEqual({ table: "events", name: "events_pkey", columns: ["global_position"], unique: true, primary: true, partial: false });
    expect(declared).toContainEqual({ table: "events", name: "events_event_id_key", columns: ["event_id"], unique: true, primary: false, partial: false });
    expect(declared).toContainEqual({ table: "rm_encounters", name: "rm_encounters_open_idx", columns: ["started_at"], unique: false, primary: false, partial: true });
    expect(declared).toContainEqual({ table: "rm_patients", name: "rm_patients_mrn_prefix_idx", columns: ["mrn"], unique: false, primary: false, partial: false });
  });

  it("every table the migrations create has a model", async () => {
    const tables = (await db().prisma.$queryRawUnsafe<{ name: string }[]>(tableQuery)).map((r) => r.name);
    const modelled = new Set(models.map((m) => m.table));
    const missing = tables.filter((t) => !modelled.has(t));
    expect(missing, `tables without a model in prisma/schema.prisma (add a model with @@map("<table>") for each): ${missing.join(", ")}`).toEqual([]);
  });

  it("every index in the database is declared in schema.prisma (or allowed, with a reason), and every declared one exists with the same columns", async () => {
    const actual = await db().prisma.$queryRawUnsafe<DbIndex[]>(indexQuery);
    const byName = new Map(declared.map((d) => [d.name, d]));
    const undeclared = actual.filter((a) => !byName.has(a.name) && !(a.name in notExpressibleInPrisma));
    expect(undeclared.map((a) => declaration(a, models)), "indexes the migrations create but prisma/schema.prisma lacks").toEqual([]);

    const actualByName = new Map(actual.map((a) => [a.name, a]));
    const absent = declared.filter((d) => !actualByName.has(d.name)).map((d) => `${d.name} (table ${d.table})`);
    expect(absent, "declared in prisma/schema.prisma but not created by any migration (a misspelt map name?)").toEqual([]);

    const differing = declared.flatMap((d) => {
      const a = actualByName.get(d.name);
      if (!a) return [];
      const same = a.table === d.table && a.columns.join() === d.columns.join() && a.unique === d.unique && a.primary === d.primary && (a.predicate !== null) === d.partial;
      return same ? [] : [`${d.name}: schema.prisma says ${JSON.stringify(d)}, the database has ${a.definition}`];
    });
    expect(differing, "declared differently from what the migrations create").toEqual([]);

    // The allow-list stays honest: each entry exists and really is an expression index or has
    // INCLUDE columns.
    for (const name of Object.keys(notExpressibleInPrisma)) {
      const index = actualByName.get(name);
      expect(index, `${name} is allowed as not expressible`).toBeDefined();
      expect(index!.columns.includes("(expression)") || / INCLUDE \(/.test(index!.definition), `${name} is allowed as not expressible: ${index!.definition}`).toBe(true);
    }
  });
});
