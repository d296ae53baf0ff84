// Names as people write them, on both databases: in any script they are found by search and
// checked for duplicates like Latin ones; a search that folds to nothing lists nobody.
import { randomUUID } from "node:crypto";
import { expect, it } from "vitest";
import { callerAs, newPatient } from "../testing/caller";
import { describeEachDatabase } from "../testing/db";
import type { SessionUser } from "./context";
import { MappedError } from "./errors";

const clinician: SessionUser = { id: "names-clinician", email: "names@example.test", name: "Nadia Names", roles: ["clinician"] };

/** A word no other test has, in the letters of `alphabet` (a test's own patients only). */
function unique(alphabet: string, length = 6): string {
  const letters = [...alphabet];
  return [...randomUUID().replace(/-/g, "").slice(0, length)].map((hex) => letters[parseInt(hex, 16) % letters.length]).join("");
}

const scripts = [
  { script: "Cyrillic", given: "Иван", family: () => `Петров${unique("бвгдклмнпрст")}`, typed: (f: string) => f.toUpperCase() },
  { script: "Greek", given: "Γιώργος", family: () => `Παπαδόπουλος${unique("βγδκλμνπρστ")}`, typed: (f: string) => f.toUpperCase() },
  { script: "CJK", given: "伟", family: () => `王${unique("明华国建文军平志")}`, typed: (f: string) => f },
  { script: "Arabic", given: "محمد", family: () => `الحسيني${unique("بتثجحخدذرزس")}`, typed: (f: string) => f },
];

/** What a registration refused as a possible duplicate showed, or null when it registered. */
async function duplicateRefusal(register: Promise<unknown>) {
  try {
    await register;
    return null;
  } catch (error) {
    if (error instanceof MappedError && error.domain.kind === "possible_duplicate") return error.domain.candidates.map((c) => c.patientId);
    throw error;
  }
}

describeEachDatabase("names in every script", (db) => {
  for (const { script, given, family: familyOf, typed } of scripts) {
    it(`finds a ${script} name by search and warns of the same person registered again under another MRN`, async () => {
      const api = await callerAs(db(), clinician);
      const family = familyOf();
      const first = await api.patient.register(newPatient({ givenName: given, familyName: family, dateOfBirth: "1975-07-07" }));
      // Another MRN, the family name typed in capitals where the script has them: the same person.
      const again = newPatient({ givenName: given, familyName: typed(family), dateOfBirth: "1975-07-07" });
      expect(await duplicateRefusal(api.patient.register(again))).toEqual([first.patientId]);
      // Either way round, too.
      expect(await duplicateRefusal(api.patient.register(newPatient({ givenName: family, familyName: given, dateOfBirth: "1975-07-07" })))).toEqual([first.patientId]);

      // Found by the family name (also in capitals), a fragment of it, and family and given name together.
      for (const search of [family, typed(family), family.slice(-4), `${given} ${family}`]) {
        const found = await api.patient.list({ search });
        expect(found.items.map((p) => p.patientId), search).toEqual([first.patientId]);
      }
      const compliance = await callerAs(db(), { id: "names-compliance", email: "nc@example.test", name: "Noor Compliance", roles: ["compliance"] });
      expect((await compliance.audit.patients({ search: family })).items.map((p) => p.patientId)).toEqual([first.patientId]);

      // A name of the same script that nobody has: nobody, and nobody logged as listed.
      const before = await db().prisma.accessLog.count({ where: { userId: clinician.id } });
      expect((await api.patient.list({ search: familyOf() })).items).toEqual([]);
      expect(await db().prisma.accessLog.count({ where: { userId: clinician.id } })).toBe(before);
    });
  }

  it("lists nobody for a search whose words fold to nothing, rather than everybody", async () => {
    const api = await callerAs(db(), clinician);
    await api.patient.register(newPatient());
    const before = await db().prisma.accessLog.count({ where: { userId: clinician.id } });
    // Cherokee and Runic letters are letters (searchWords keeps them), which the fold does not know.
    for (const search of ["ᏣᎳᎩ", "ᏣᎳᎩᏍᎦ", "ᚠᚢᚦ", "ᏣᎳᎩ ᚠᚢᚦ", "ᏣᎳ"]) {
      expect((await api.patient.list({ search })).items, search).toEqual([]);
    }
    expect(await db().prisma.accessLog.count({ where: { userId: clinician.id } })).toBe(before);
  });
});
