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
export function makeDevFileOnce(file: string, content: () => string, link: (from: string, to: string) => void = linkSync): void {
  if (existsSync(/*turbopackIgnore: true*/ file)) return;
  mkdirSync(/*turbopackIgnore: true*/ dirname(file), { recursive: true });
  const draft = `${file}.${process.pid}.${Date.now()}`;
  const text = content();
  writeFileSync(/*turbopackIgnore: true*/ draft, text, { flag: "wx", mode: 0o600 });
  let linked = true;
  try {
    link(/*turbopackIgnore: true*/ draft, file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    // Another process made it first: theirs is read.
    if (code === "EEXIST") return;
    // A folder without hard links (a VirtualBox or SMB share, some FUSE mounts): made in place,
    // still only by the first process (wx), though one starting at that very moment could read
    // it half written.
    if (code !== "EPERM" && code !== "ENOTSUP" && code !== "EOPNOTSUPP" && code !== "ENOSYS") throw error;
    linked = false;
  } finally {
    unlinkSync(/*turbopackIgnore: true*/ draft);
  }
  if (linked) return;
  try {
    writeFileSync(/*turbopackIgnore: true*/ file, text, { flag: "wx", mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
}
