// The one string schema, shared by the server's inputs and the browser's forms: pure zod, no
// server code, so a component may import it.
import { z } from "zod";

/** A lone UTF-16 surrogate: not Unicode at all; JSONB refuses it and UTF-8 cannot encode it. */
const loneSurrogate = /\p{Cs}/u;

/** Why `value` cannot be stored as text, or null when it can. */
export function textProblem(value: string): string | null {
  // PostgreSQL text and JSONB cannot hold U+0000.
  if (value.includes("\u0000")) return "must not contain a NUL character (U+0000)";
  if (loneSurrogate.test(value)) return "must not contain an unpaired surrogate (malformed Unicode)";
  return null;
}

export type TextOptions = {
  /** Minimum length after trimming (default 0). */
  min?: number;
  minMessage?: string;
  maxMessage?: string;
  /** Default true; passwords keep their spaces. */
  trim?: boolean;
};

/**
 * The API's one string schema: refuses NUL and lone surrogates (naming the field through the
 * issue's path), trims, and bounds the length. Use it for every string that is not an enum, a
 * uuid, an email or an anchored pattern (those admit no such characters).
 */
export function text(max: number, options: TextOptions = {}) {
  let schema = z.string().check((ctx) => {
    // Before trimming or counting: a megabyte of input must not be scanned twice to be refused.
    if (ctx.value.length > max * 4 + 1024) {
      ctx.issues.push({ code: "too_big", origin: "string", maximum: max, inclusive: true, input: ctx.value, message: options.maxMessage ?? `at most ${max} characters`, continue: false });
      return;
    }
    const problem = textProblem(ctx.value);
    if (problem) ctx.issues.push({ code: "custom", message: problem, input: ctx.value, continue: false });
  });
  if (options.trim !== false) schema = schema.trim();
  if (options.min !== undefined) schema = schema.min(options.min, options.minMessage ?? (options.min === 1 ? "required" : `at least ${options.min} characters`));
  return schema.max(max, options.maxMessage ?? `at most ${max} characters`);
}

/** An id from outside that is not a uuid (user ids of the sign-in system, stream ids). */
export const idText = text(100, { min: 1 });

// ---- person names ---------------------------------------------------------------------------------

/**
 * Characters that draw nothing though Unicode counts them as letters or symbols, not as format
 * characters, and that no name is spelled with: the Hangul fillers (U+115F, U+1160, U+3164,
 * U+FFA0), the braille blank (U+2800), Khmer's deprecated inherent vowels (U+17B4, U+17B5). A
 * name of Hangul fillers alone passed "at least one letter" and read as blank. For a character
 * class (escapes only).
 */
export const fillerCharacters = String.raw`\u115F\u1160\u3164\uFFA0\u2800\u17B4\u17B5`;

/**
 * What draws nothing standing alone: the fillers, and the marks that only change the letter before
 * them (variation selectors, Mongolian free variation selectors, the combining grapheme joiner),
 * which names may hold after a letter (a Japanese name's ideographic variant) but a text of them
 * alone reads as blank. For a character class (escapes only).
 */
export const blankCharacters = String.raw`${fillerCharacters}\uFE00-\uFE0F\u180B-\u180D\u180F\u034F\u{E0100}-\u{E01EF}`;

/**
 * Characters that show nothing, or change how what follows shows (Unicode's Cc and Cf, and the
 * fillers above): zero-width spaces and joiners, direction overrides and isolates, invisible
 * separators, the soft hyphen, the Hangul fillers.
 * In a name they make two charts of one person read alike while neither search nor the duplicate
 * check sees them as the same: "Ad\u200Bams" displays as "Adams".
 */
const invisibleCharacter = new RegExp(String.raw`[\p{Cc}\p{Cf}${fillerCharacters}]`, "u");

/**
 * Letters that look like a plain Latin letter and belong to no alphabet people write names in:
 * phonetic and small-capital letters, full-width and mathematical styled letters ("N\u0261uyen"
 * with a script g reads as "Nguyen"). The phonetic letters African alphabets use (ɛ, ɔ, ŋ, ɓ, ɗ...)
 * are not among them.
 */
const lookAlikeLetter = /[\u0251\u0261\u0262\u0269\u026A\u0274\u0280\u028F\u029C\u029F\u1D00-\u1D22\uFF21-\uFF3A\uFF41-\uFF5A\u{1D400}-\u{1D7FF}]/u;

/** The scripts whose letters pass for one another: Latin A, Cyrillic А and Greek Α look the same. */
const confusableScripts = [
  ["Latin", /\p{Script=Latin}/u],
  ["Cyrillic", /\p{Script=Cyrillic}/u],
  ["Greek", /\p{Script=Greek}/u],
] as const;

/** Why `name` (NFC, trimmed) cannot be a person's name, or null when it can. `label` names the field. */
/**
 * The zero-width non-joiner and joiner (U+200C, U+200D) are part of how names are spelled in
 * Persian, Urdu and the Indic scripts ("علی‌رضا"): allowed between two letters of such a script,
 * never beside a Latin, Cyrillic or Greek letter, where they only hide a difference.
 */
const joinerOutsideItsScripts = /(?<![\p{L}\p{M}])[\u200C\u200D]|[\u200C\u200D](?![\p{L}\p{M}])|[\p{Script=Latin}\p{Script=Cyrillic}\p{Script=Greek}][\p{M}]*[\u200C\u200D]|[\u200C\u200D][\p{Script=Latin}\p{Script=Cyrillic}\p{Script=Greek}]/u;

export function personNameProblem(name: string, label: string): string | null {
  if (name === "") return null;
  const joiner = joinerOutsideItsScripts.exec(name);
  const invisible = joiner ? /[\u200C\u200D]/u.exec(joiner[0]) : invisibleCharacter.exec(name.replace(/[\u200C\u200D]/gu, ""));
  if (invisible) {
    const code = invisible[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0");
    return `${label} contains an invisible or control character (U+${code}, such as a zero-width space or a text-direction override); retype the name`;
  }
  if (!/\p{L}/u.test(name)) return `${label} must contain at least one letter`;
  const lookAlike = lookAlikeLetter.exec(name);
  if (lookAlike) return `${label} contains "${lookAlike[0]}", a phonetic or styled letter that looks like a plain one; type the plain letter`;
  // One word in letters of more than one of Latin, Cyrillic and Greek: "\u0410dams" (a Cyrillic А)
  // displays as "Adams". Browsers treat mixed-script domain names the same way (Unicode's UTS #39
  // restriction levels: such a name is shown as punycode, not as the look-alike). A name may
  // still be written in any one script, or have words in different ones.
  for (const word of name.split(/[^\p{L}\p{M}]+/u)) {
    const scripts = confusableScripts.filter(([, pattern]) => pattern.test(word)).map(([script]) => script);
    if (scripts.length > 1) return `${label} mixes ${scripts.join(" and ")} letters in one word ("${word}"), which can look like another name; type each word in one alphabet`;
  }
  return null;
}

/**
 * A person's name as typed (patients' given and family names, staff names): text(), then Unicode
 * NFC (a name typed decomposed, "Jose" + U+0301, is stored as the composed "José", so it displays,
 * searches and is checked for duplicates as the same name), and refused when it holds an
 * invisible or control character, no letter, a look-alike letter, or a word mixing Latin,
 * Cyrillic and Greek letters (personNameProblem). Inputs only: events already stored are read
 * with text(), as they were written.
 */
export function personName(label: string, max: number, options: TextOptions = {}) {
  return text(max, options)
    .normalize("NFC")
    .check((ctx) => {
      const problem = personNameProblem(ctx.value, label);
      if (problem) ctx.issues.push({ code: "custom", message: problem, input: ctx.value });
    });
}
