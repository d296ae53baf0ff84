// Names as people write them, on both databases: in any script they are found by search and
// checked for duplicates like Latin ones; a search that folds to nothing lists nobody; names
// that would display as another name (invisible characters, look-alike letters) are refused, and
// a name typed decomposed is stored composed.
import { randomUUID } from "node:crypto";
import { TRPCError } from "@trpc/server";
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
  { script: "Cyrillic", given: "Иван", family: () => `Петров${unique("бвгдклмнпрст")}`, typed: (f: string) => f.toUpperCase(), stranger: "Кузнецова" },
  { script: "Greek", given: "Γιώργος", family: () => `Παπαδόπουλος${unique("βγδκλμνπρστ")}`, typed: (f: string) => f.toUpperCase(), stranger: "Οικονόμου" },
  { script: "CJK", given: "伟", family: () => `王${unique("明华国建文军平志")}`, typed: (f: string) => f, stranger: "李娜" },
  { script: "Arabic", given: "محمد", family: () => `الحسيني${unique("بتثجحخدذرزس")}`, typed: (f: string) => f, stranger: "الزهراني" },
  // Georgian typed in capitals (Mtavruli), which lower() folds under a UTF-8 locale only.
  { script: "Georgian", given: "გიორგი", family: () => `ბერიძე${unique("აბგდევზთიკლმნ")}`, typed: (f: string) => f.toUpperCase(), stranger: "კაპანაძე" },
  // Inuktitut and Cree are written in Canadian syllabics.
  { script: "Canadian syllabics", given: "ᐊᓂᑕ", family: () => `ᑭᓪᓗᐊᖅ${unique("ᐃᐅᐊᐱᐳᐸᑎᑐᑕᑭᑯᑲ")}`, typed: (f: string) => f, stranger: "ᐅᓗᔪᒃ" },
  // Cherokee is written in capitals; its small letters are the same letters.
  { script: "Cherokee", given: "ᏌᎳ", family: () => `ᏩᏯ${unique("ᎠᎡᎢᎣᎤᎦᎧᎨᎩᎪ")}`, typed: (f: string) => f.toLowerCase(), stranger: "ᏚᏯᏍᏗ" },
  // Fulani (Pular) in Adlam, which has capitals.
  { script: "Adlam", given: "𞤀𞤣𞤢𞤥𞤢", family: () => `𞤄𞤢𞤤𞤣𞤫${unique("𞤢𞤣𞤤𞤥𞤦𞤧𞤨𞤩𞤪𞤫𞤬𞤭")}`, typed: (f: string) => f.toUpperCase(), stranger: "𞤅𞤢𞤤𞤭𞤬" },
  // N'Ko: a name typed without its tone marks is the same name.
  { script: "N'Ko", given: "ߡߊ߬ߡߊ߬ߘߎ", family: () => `ߞߏߣߊ߬ߕߍ${unique("ߊߋߌߍߎߏߐߓߔߕߖߗ")}`, typed: (f: string) => f.replace(/[\u07EB-\u07F3]/gu, ""), stranger: "ߛߌߛߐߞߏ" },
  { script: "Tifinagh", given: "ⵎⵓⵃⴰⵎⵎⴷ", family: () => `ⴰⵎⴰⵣⵉⵖ${unique("ⴰⴱⴳⴷⴹⴻⴼⴽⵀⵃⵄⵅ")}`, typed: (f: string) => f, stranger: "ⵜⴰⵙⵍⵉⵜ" },
  // Dhivehi in Thaana, whose vowel signs are part of how a name is spelled.
  { script: "Thaana", given: "އަޙްމަދު", family: () => `ހުސައިން${unique("ހށނރބޅކއވމފދ")}`, typed: (f: string) => f, stranger: "ރަޝީދު" },
  { script: "Syriac", given: "ܝܘܚܢܢ", family: () => `ܐܒܪܗܡ${unique("ܐܒܓܕܗܘܙܚܛܝܟܠ")}`, typed: (f: string) => f, stranger: "ܫܡܥܘܢ" },
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

/** The message of a BAD_REQUEST refusal (any other outcome fails the test). */
async function badRequest(call: Promise<unknown>): Promise<string> {
  const error = await call.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(TRPCError);
  expect((error as TRPCError).code).toBe("BAD_REQUEST");
  return (error as TRPCError).message;
}

describeEachDatabase("names in every script", (db) => {
  for (const { script, given, family: familyOf, typed, stranger } of scripts) {
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

      // A name of the same script that nobody has (nor a near one: not another of these
      // families, which a typo's near match may find): nobody, and nobody logged as listed.
      const before = await db().prisma.accessLog.count({ where: { userId: clinician.id } });
      expect((await api.patient.list({ search: stranger })).items).toEqual([]);
      expect(await db().prisma.accessLog.count({ where: { userId: clinician.id } })).toBe(before);
    });
  }

  it("lists nobody for a search whose words fold to nothing, rather than everybody", async () => {
    const api = await callerAs(db(), clinician);
    await api.patient.register(newPatient());
    const before = await db().prisma.accessLog.count({ where: { userId: clinician.id } });
    // Gothic and Old Italic letters are letters (searchWords keeps them), which the fold does not know.
    for (const search of ["𐌰𐌱𐌲", "𐌰𐌱𐌲𐌳𐌴", "𐌀𐌁𐌂", "𐌰𐌱𐌲 𐌀𐌁𐌂", "𐌰𐌱"]) {
      expect((await api.patient.list({ search })).items, search).toEqual([]);
    }
    expect(await db().prisma.accessLog.count({ where: { userId: clinician.id } })).toBe(before);
  });

  it("refuses names that display as another name: invisible characters, look-alike letters, no letter at all", async () => {
    const api = await callerAs(db(), clinician);
    const family = `Adams${unique("bcdfghjklmnpqrstvwxz")}`;
    const real = await api.patient.register(newPatient({ givenName: "Ava", familyName: family, dateOfBirth: "2002-03-26" }));
    const refused: [string, string, RegExp][] = [
      ["a zero-width space", `Ad\u200B${family.slice(2)}`, /Family name contains an invisible or control character \(U\+200B/],
      ["a Cyrillic А", `\u0410${family.slice(1)}`, /Family name mixes Latin and Cyrillic letters in one word/],
      ["a Greek omicron", family.replace("a", "\u03BF"), /Family name mixes Latin and Greek letters in one word/],
      ["a right-to-left override", `\u202E${family}`, /familyName contains a text-direction control character \(U\+202E\)/],
      ["a script g", `N\u0261uyen${family.slice(5)}`, /Family name contains .{1,2}\u0261.{1,2}, a phonetic or styled letter/],
      ["full-width letters", "Ａｄａｍｓ", /Family name contains .{1,2}Ａ.{1,2}, a phonetic or styled letter/],
      // Refused before the name's own rules look at it: no input may be invisible characters alone.
      ["only an invisible separator", "\u2063", /familyName holds only invisible characters/],
      ["only Hangul fillers, which count as letters", "\u3164\u3164", /familyName holds only invisible characters/],
      ["a Hangul filler inside a name", `Ad\u3164${family.slice(2)}`, /Family name contains an invisible or control character \(U\+3164/],
      ["a braille blank", `Ad\u2800${family.slice(2)}`, /Family name contains an invisible or control character \(U\+2800/],
      ["no letter", "-- 42", /Family name must contain at least one letter/],
    ];
    for (const [what, familyName, message] of refused) {
      expect(await badRequest(api.patient.register(newPatient({ givenName: "Ava", familyName, dateOfBirth: "2002-03-26" }))), what).toMatch(message);
    }
    expect(await badRequest(api.patient.register(newPatient({ givenName: "A\u200Dva", familyName: `Other${family}` })))).toMatch(/Given name contains an invisible/);
    // A change of name is held to the same rules.
    expect(
      await badRequest(api.patient.updateDemographics({ patientId: real.patientId, expectedVersion: 1, changes: { familyName: `\u0410${family.slice(1)}` }, reason: "typo" })),
    ).toMatch(/Family name mixes Latin and Cyrillic/);
    // Nothing of them was registered: one Ava born that day under this name.
    expect(await db().prisma.rmPatient.count({ where: { dateOfBirth: new Date("2002-03-26"), familyName: { contains: family.slice(2) } } })).toBe(1);
  });

  it("refuses a text-direction control in free text (a reason an officer reads), and writes nothing", async () => {
    const api = await callerAs(db(), clinician);
    const { patientId } = await api.patient.register(newPatient({ givenName: "Ava", familyName: `Reyes${unique("bcdfghjklmnpqrstvwxz")}` }));
    // Displays as "Corrected by the patient: not approved" read backwards after the override.
    const reason = "Corrected by the patient \u202Edevorppa ton";
    expect(await badRequest(api.patient.updateDemographics({ patientId, expectedVersion: 1, changes: { phone: "+1 555 0100" }, reason }))).toMatch(
      /^reason contains a text-direction control character \(U\+202E\)/,
    );
    expect(await db().sql<{ n: number }>("SELECT count(*)::int AS n FROM events WHERE stream_id = $1", [`patient-${patientId}`])).toEqual([{ n: 1 }]);
    // Right-to-left text itself is welcome.
    const hebrew = await api.patient.updateDemographics({ patientId, expectedVersion: 1, changes: { phone: "+1 555 0177" }, reason: "\u05EA\u05D9\u05E7\u05D5\u05DF \u05D8\u05E2\u05D5\u05EA" });
    expect(hebrew.version).toBe(2);
  });

  it("stores a name typed decomposed (NFD) composed, and warns of the composed one already registered", async () => {
    const api = await callerAs(db(), clinician);
    const family = `Ramírez${unique("bcdfghjklmnpqrstvwxz")}`;
    const first = await api.patient.register(newPatient({ givenName: "José", familyName: family, dateOfBirth: "1968-10-02" }));
    const nfd = newPatient({ givenName: "José".normalize("NFD"), familyName: family.normalize("NFD"), dateOfBirth: "1968-10-02" });
    expect(nfd.familyName).not.toBe(family);
    expect(await duplicateRefusal(api.patient.register(nfd))).toEqual([first.patientId]);
    // Registered anyway (another José Ramírez born that day), it is stored composed: it reads,
    // searches and compares as the name typed composed does.
    const second = await api.patient.register({ ...nfd, mrn: nfd.mrn, notDuplicateOf: [first.patientId] });
    const { patient } = await api.patient.byId({ patientId: second.patientId });
    expect(patient.familyName).toBe(family);
    expect(patient.givenName).toBe("José");
    const found = await api.patient.list({ search: family.normalize("NFD") });
    expect(found.items.map((p) => p.patientId).sort()).toEqual([first.patientId, second.patientId].sort());
  });

  it("still takes the names it always took", async () => {
    const api = await callerAs(db(), clinician);
    const suffix = unique("bcdfghjklmnpqrstvwxz");
    for (const [givenName, familyName] of [
      ["Siobhán", `O'Brien${suffix}`],
      ["Anne-Marie", `Smith-Jones${suffix}`],
      ["Zoë", `Núñez de la Peña${suffix}`],
      ["", `D’Angelo${suffix}`],
      ["Kwame", `Bɔɔ${suffix}`],
      ["Иван", `Smith${suffix}`],
      ["太郎", `ヤマダ${suffix}`],
    ] as const) {
      expect((await api.patient.register(newPatient({ givenName, familyName }))).patientId).toBeTruthy();
    }
  });
});
