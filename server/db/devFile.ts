// Development key files in .data/ (the PHI master key, the audit signing key, the sign-in secret):
// made once per install, outside production, by whichever process starts first.
import { existsSync, linkSync, mkdirSync, unlinkSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

/**
 * Makes `file` with `content` (mode 600) unless it exists. Written whole under a name of its own,
 * then linked into place: a process starting at the same moment either links first or reads the
 * whole file the other linked, and a start killed while writing leaves no empty or half file
 * behind (which would stop every later start), only a draft that nothing reads.
 */
export function makeDevFileOnce(file: string, content: () => string): void {
  if (existsSync(/*turbopackIgnore: true*/ file)) return;
  mkdirSync(/*turbopackIgnore: true*/ dirname(file), { recursive: true });
  const draft = `${file}.${process.pid}.${Date.now()}`;
  writeFileSync(/*turbopackIgnore: true*/ draft, content(), { flag: "wx", mode: 0o600 });
  try {
    linkSync(/*turbopackIgnore: true*/ draft, file);
  } catch (error) {
    // Another process made it first: theirs is read.
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  } finally {
    unlinkSync(/*turbopackIgnore: true*/ draft);
  }
}
