// The import-boundary rule (eslint.config.mjs): a component that imports server code at run time
// fails lint; one that imports only types from the server, and values from shared/, passes.
import { readFileSync } from "node:fs";
import { ESLint } from "eslint";
import { describe, expect, it } from "vitest";

const eslint = new ESLint({ cwd: process.cwd() });
const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), "utf8");

async function lintAs(filePath: string, code: string) {
  const [result] = await eslint.lintText(code, { filePath });
  return result!.messages.filter((m) => m.ruleId === "@typescript-eslint/no-restricted-imports");
}

describe("import boundary", () => {
  it("fails a component that imports a server module", async () => {
    const messages = await lintAs("components/clinical/Leaky.tsx", fixture("component-imports-server.tsx"));
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({ severity: 2, line: 2 });
    expect(messages[0]!.message).toContain("for types only");
  });

  it("fails shared/ importing server code, and relative paths too", async () => {
    const messages = await lintAs("shared/clinical/leaky.ts", 'import { env } from "../../server/db/env";\nexport const x = env;\n');
    expect(messages).toHaveLength(1);
  });

  it("passes type imports from the server and values from shared/", async () => {
    expect(await lintAs("components/clinical/Fine.tsx", fixture("component-imports-types.tsx"))).toEqual([]);
  });

  it("leaves server code alone", async () => {
    expect(await lintAs("server/api/fine.ts", 'import { env } from "../db/env";\nexport const x = env;\n')).toEqual([]);
  });
});
