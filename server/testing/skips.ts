// Which tests skip without DATABASE_URL or AMQP_URL, read from the test files themselves, for the
// README's list (skips.unit.test.ts keeps the two equal).
//   npx tsx server/testing/skips.ts           prints the list
//   npx tsx server/testing/skips.ts --write   rewrites it in README.md
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";

export type Skip = {
  file: string;
  suite: string;
  needs: "postgresql-only" | "postgresql-half" | "amqp";
  /** An AMQP test inside a PostgreSQL-only suite needs DATABASE_URL as well. */
  alsoPostgres?: boolean;
};

/** Whether the text from a suite's start to `end` leaves its braces open (strings are rare enough in test names to ignore). */
function encloses(source: string, start: number, end: number): boolean {
  let depth = 0;
  let opened = false;
  for (let i = start; i < end; i++) {
    if (source[i] === "{") {
      depth++;
      opened = true;
    } else if (source[i] === "}") depth--;
    if (opened && depth === 0) return false;
  }
  return opened && depth > 0;
}

const roots = ["server", "prisma", "bench", "components"];

function testFiles(root: string, dir = root): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === "node_modules" || entry.name === "generated" ? [] : testFiles(root, path);
    return /\.test\.ts$/.test(entry.name) ? [path] : [];
  });
}

// The first argument of the call that follows a marker: its suite or test name.
const nameAfter = String.raw`\(\s*(["'\`])((?:(?!\1).)*)\1`;
const markers: { pattern: RegExp; needs: Skip["needs"] }[] = [
  { pattern: new RegExp(String.raw`describePostgres${nameAfter}`, "g"), needs: "postgresql-only" },
  { pattern: new RegExp(String.raw`\.skipIf\(\s*!pgUrl\s*\)${nameAfter}`, "g"), needs: "postgresql-only" },
  { pattern: new RegExp(String.raw`describeEach(?:Own)?Database${nameAfter}`, "g"), needs: "postgresql-half" },
  { pattern: new RegExp(String.raw`\.skipIf\(\s*!amqpUrl\s*\)${nameAfter}`, "g"), needs: "amqp" },
];

export function findSkips(repoRoot: string): Skip[] {
  const skips: Skip[] = [];
  for (const root of roots) {
    for (const path of testFiles(join(repoRoot, root)).sort()) {
      const source = readFileSync(path, "utf8");
      const file = relative(repoRoot, path);
      const pgOnly: number[] = [];
      for (const { pattern, needs } of markers) {
        for (const match of source.matchAll(pattern)) {
          if (needs === "postgresql-only") pgOnly.push(match.index);
          const skip: Skip = { file, suite: match[2]!, needs };
          if (needs === "amqp" && pgOnly.some((start) => encloses(source, start, match.index))) skip.alsoPostgres = true;
          skips.push(skip);
        }
      }
    }
  }
  return skips.sort((a, b) => a.file.localeCompare(b.file) || a.suite.localeCompare(b.suite));
}

export function skipsMarkdown(skips: Skip[]): string {
  const list = (needs: Skip["needs"]) =>
    skips
      .filter((s) => s.needs === needs)
      .map((s) => `- \`${s.file}\`: ${s.suite}${s.alsoPostgres ? " (needs `DATABASE_URL` too)" : ""}`)
      .join("\n");
  return [
    "Without `DATABASE_URL`, these are skipped entirely (they need several real connections or a PostgreSQL server):",
    "",
    list("postgresql-only"),
    "",
    "and these run on the embedded database only (their PostgreSQL half is skipped):",
    "",
    list("postgresql-half"),
    "",
    "Without `AMQP_URL` (RabbitMQ), these are skipped:",
    "",
    list("amqp"),
  ].join("\n");
}

export const readmeStart = "<!-- tests:skipped:start -->";
export const readmeEnd = "<!-- tests:skipped:end -->";

/** The README's current list, between the markers. */
export function readmeList(readme: string): string | null {
  const start = readme.indexOf(readmeStart);
  const end = readme.indexOf(readmeEnd);
  if (start < 0 || end < start) return null;
  return readme.slice(start + readmeStart.length, end).trim();
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const root = process.cwd();
  const markdown = skipsMarkdown(findSkips(root));
  if (process.argv.includes("--write")) {
    const path = join(root, "README.md");
    const readme = readFileSync(path, "utf8");
    if (readmeList(readme) === null) throw new Error(`README.md has no ${readmeStart} … ${readmeEnd} block`);
    const start = readme.indexOf(readmeStart) + readmeStart.length;
    writeFileSync(path, `${readme.slice(0, start)}\n${markdown}\n${readme.slice(readme.indexOf(readmeEnd))}`);
    console.log("README.md: list of skipped tests updated");
  } else console.log(markdown);
}
