import { describe, expect, it } from "vitest";
import { personName } from "./text";

const family = personName("Family name", 100, { min: 1 });
const given = personName("Given name", 100);

/** The first message a value is refused with, or null when it is taken. */
const refusal = (schema: typeof family, value: string) => {
  const result = schema.safeParse(value);
  return result.success ? null : result.error.issues[0]!.message;
};

describe("personName", () => {
  it("takes names as people write them, in any one script", () => {
    for (const name of ["O'Brien", "O’Brien", "Smith-Jones", "Núñez de la Peña", "Zoë", "Ærø", "Strauß", "Nguyễn Thị", "Иван Петров", "Γιώργος", "王 伟", "محمد", "משה", "मोहन", "Bɔɔ", "D'Angelo Jr.", "Anne Marie 2nd"]) {
      expect(refusal(family, name), name).toBeNull();
    }
    // Words in different scripts are each written in one.
    expect(refusal(family, "Иван Smith")).toBeNull();
    // A given name may be empty; a family name may not.
    expect(refusal(given, "")).toBeNull();
    expect(refusal(family, " ")).toBe("required");
  });

  it("stores a decomposed name composed (NFC), trimmed", () => {
    const nfd = " José Ramírez ".normalize("NFD");
    expect(family.parse(nfd)).toBe("José Ramírez");
    expect(family.parse(nfd)).toBe("José Ramírez".normalize("NFC"));
  });

  it("refuses invisible and control characters, naming the field and the character", () => {
    for (const [name, code] of [
      ["Ad\u200Bams", "200B"],
      ["\u202Eneyugn", "202E"],
      ["Ad\u2066ams\u2069", "2066"],
      ["A\u200Dva", "200D"],
      ["Ad\u00ADams", "00AD"],
      ["Ad\u0007ams", "0007"],
      ["Ad\uFEFFams", "FEFF"],
    ] as const) {
      expect(refusal(family, name), name).toBe(
        `Family name contains an invisible or control character (U+${code}, such as a zero-width space or a text-direction override); retype the name`,
      );
    }
    expect(refusal(given, "Ava\u2063")).toMatch(/^Given name contains an invisible or control character/);
    expect(refusal(family, "Ad\u200Cams")).toMatch(/U\+200C/);
    expect(refusal(family, "\u200Cعلی")).toMatch(/U\+200C/);
  });

  it("accepts the joiners where a script spells names with them (Persian, Indic), between its letters", () => {
    for (const name of ["علی\u200Cرضا", "می\u200Cنا", "क्\u200Dष"]) expect(refusal(given, name), name).toBeNull();
  });

  it("refuses a name with no letter", () => {
    for (const name of ["\u2063", "42", "--", "'"]) expect(refusal(family, name), name).toMatch(/^Family name (must contain at least one letter|contains an invisible)/);
    expect(refusal(family, "42 -")).toBe("Family name must contain at least one letter");
  });

  it("refuses a word that mixes Latin, Cyrillic and Greek look-alikes", () => {
    expect(refusal(family, "\u0410dams")).toBe('Family name mixes Latin and Cyrillic letters in one word ("Аdams"), which can look like another name; type each word in one alphabet');
    expect(refusal(family, "Ad\u03B1ms")).toMatch(/^Family name mixes Latin and Greek letters in one word/);
    expect(refusal(family, "Пetrov")).toMatch(/^Family name mixes Latin and Cyrillic letters/);
    expect(refusal(family, "Smith-\u0410dams")).toMatch(/mixes Latin and Cyrillic/);
  });

  it("refuses phonetic and styled letters that pass for plain ones", () => {
    expect(refusal(family, "N\u0261uyen")).toBe('Family name contains "ɡ", a phonetic or styled letter that looks like a plain one; type the plain letter');
    for (const name of ["Ａｄａｍｓ", "\u{1D400}dams", "\u1D00dams", "Ad\u0251ms"]) expect(refusal(family, name), name).toMatch(/a phonetic or styled letter/);
  });
});
