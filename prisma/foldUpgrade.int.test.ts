// An install upgraded to the fold of every script (20261208010000_fold_every_script, and the scripts
// 20261213010000_fold_more_scripts adds) searches and checks for duplicates the patients it already
// had, without a rebuild: the migrations rewrite the rows whose search_text the new fold changes
// and the index on the folded family name.
import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { duplicateQuery } from "../server/api/duplicates";
import { openDatabase, type Database } from "../server/db/client";
import { defaultMigrationsDir, migrate, readMigrations } from "../server/db/migrate";
import { listPatients } from "../server/projections/queries";
import { pgOwnerUrl, pgUrl } from "../server/testing/db";

const upgrade = "20261208010000_fold_every_script";

/** The migrations before the fold of every script, as a folder of their own. */
function migrationsBefore(): string {
  const dir = mkdtempSync(join(tmpdir(), "emr-migrations-"));
  for (const { name } of readMigrations()) if (name < upgrade) cpSync(join(defaultMigrationsDir, name), join(dir, name), { recursive: true });
  return dir;
}

const patients = [
  ["MRN1", "Иван", "Петров"],
  ["MRN2", "Ava", "Adams"],
  ["MRN3", "伟", "王"],
  // Stored decomposed and with a zero-width space, before names were checked on input.
  ["MRN4", "José".normalize("NFD"), "Ramírez".normalize("NFD")],
  ["MRN5", "Ava", "Ad\u200Bams"],
  // Scripts the fold of every script did not list either (20261213010000_fold_more_scripts).
  ["MRN6", "ᐊᓂᑕ", "ᑭᓪᓗᐊᖅ"],
  ["MRN7", "ᏌᎳ", "ᏩᏯ"],
] as const;

const kinds = [
  {
    kind: "embedded",
    open: async () => ({ db: await openDatabase({ dataDir: "memory://" }), drop: async () => {} }),
  },
  {
    kind: "postgresql",
    open: async () => {
      const name = `emr_fold_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
      const admin = async (sql: string) => {
        const client = new pg.Client({ connectionString: pgOwnerUrl ?? pgUrl ?? undefined });
        await client.connect();
        await client.query(sql).finally(() => client.end());
      };
      await admin(`CREATE DATABASE ${name}`);
      const url = new URL(pgOwnerUrl ?? pgUrl!);
      url.pathname = `/${name}`;
      const db = await openDatabase({ url: url.toString(), poolMax: 2 });
      return {
        db,
        drop: async () => {
          await db.close();
          await admin(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        },
      };
    },
  },
] as const;

for (const { kind, open } of kinds) {
  describe.skipIf(kind === "postgresql" && !pgUrl)(`the fold of every script, on upgrade [${kind}]`, () => {
    let db: Database;
    let drop: () => Promise<void>;
    let before: string;

    beforeAll(async () => {
      ({ db, drop } = await open());
      before = migrationsBefore();
      await migrate(db, { dir: before });
      for (const [mrn, given, family] of patients) {
        await db.prisma.$executeRawUnsafe(
          `INSERT INTO rm_patients (patient_id, mrn, given_name, family_name, date_of_birth, sex, sort_key, version, registered_at, updated_at)
           VALUES (gen_random_uuid(), $1, $2, $3, date '1975-07-07', 'unknown', lower($3 || ' ' || $2), 1, now(), now())`,
          mrn,
          given,
          family,
        );
      }
    }, 120_000);

    afterAll(async () => {
      rmSync(before, { recursive: true, force: true });
      await drop?.();
    });

    const searchText = async () =>
      Object.fromEntries(
        (await db.prisma.$queryRawUnsafe<{ mrn: string; search_text: string }[]>(`SELECT mrn, search_text FROM rm_patients ORDER BY mrn`)).map((r) => [r.mrn, r.search_text]),
      );
    const found = async (search: string) => (await listPatients(db.prisma, { search, limit: 25 })).items.map((p) => p.mrn);
    const duplicates = async (givenName: string, familyName: string) => {
      const { text, params } = duplicateQuery({ givenName, familyName, dateOfBirth: "1975-07-07" });
      return (await db.prisma.$queryRawUnsafe<{ mrn: string }[]>(text, ...params)).map((r) => r.mrn);
    };

    it("searches and compares the names it had once migrated", async () => {
      // The first fold: a Cyrillic or CJK name left the MRN alone.
      expect(await searchText()).toMatchObject({ MRN1: "mrn1", MRN3: "mrn3" });
      await migrate(db);
      expect(await searchText()).toEqual({
        MRN1: "петров иван mrn1",
        MRN2: "adams ava mrn2",
        MRN3: "王 伟 mrn3",
        MRN4: "ramirez jose mrn4",
        MRN5: "adams ava mrn5",
        MRN6: "ᑭᓪᓗᐊᖅ ᐊᓂᑕ mrn6",
        // Cherokee capitals fold to the small letters Unicode pairs them with.
        MRN7: "ꮹꮿ ꮜꮃ mrn7",
      });
      expect(await found("Петров")).toEqual(["MRN1"]);
      expect(await found("王")).toEqual(["MRN3"]);
      expect(await found("Ramírez")).toEqual(["MRN4"]);
      expect((await found("adams")).sort()).toEqual(["MRN2", "MRN5"]);
      // The index on the folded family name holds the new fold (the check reads it).
      expect(await duplicates("ИВАН", "ПЕТРОВ")).toEqual(["MRN1"]);
      expect(await duplicates("伟", "王")).toEqual(["MRN3"]);
      expect(await duplicates("José", "Ramírez")).toEqual(["MRN4"]);
      expect((await duplicates("Ava", "Adams")).sort()).toEqual(["MRN2", "MRN5"]);
      expect(await found("ᑭᓪᓗᐊᖅ")).toEqual(["MRN6"]);
      expect(await found("ꮹꮿ")).toEqual(["MRN7"]);
      expect(await duplicates("ᐊᓂᑕ", "ᑭᓪᓗᐊᖅ")).toEqual(["MRN6"]);
      expect(await duplicates("ꮜꮃ", "ꮹꮿ")).toEqual(["MRN7"]);
    });

    it("folds alike under the C locale, where lower() and [[:alnum:]] know only ASCII", async () => {
      const [row] = await db.prisma.$queryRawUnsafe<{ folded: string }[]>(`SELECT emr_fold($1::text COLLATE "C") AS folded`, "ИВАН Петров, ΆΝΝΑ Núñez-O'Brien 王伟 ＡＤＡＭＳ ᏌᎳ ᲒᲘᲝᲠᲒᲘ 𞤀𞤣𞤢𞤥𞤢");
      expect(row?.folded).toBe("иван петров αννα nunez o brien 王伟 adams ꮜꮃ გიორგი 𞤢𞤣𞤢𞤥𞤢");
    });
  });
}
