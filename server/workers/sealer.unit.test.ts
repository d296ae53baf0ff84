// The sealer's wait between passes leaves no abort listener behind, and an abort that came
// during a pass ends it at once. It says so when it signs with another key than the newest seal's.
import { getEventListeners } from "node:events";
import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it, vi } from "vitest";
import type { Store } from "../eventStore";
import { captureLogLines } from "../testing/logLines";

vi.mock("../eventStore", async (importOriginal) => ({
  ...(await importOriginal<typeof import("../eventStore")>()),
  sealLog: vi.fn(async () => ({ sealed: 0, seals: 0 })),
}));
const { pause, runSealerLoop } = await import("./sealer");

describe("audit sealer loop", () => {
  it("keeps the abort listener count constant over many passes", async () => {
    const stop = new AbortController();
    const counts: number[] = [];
    const { sealLog } = await import("../eventStore");
    vi.mocked(sealLog).mockImplementation(async () => {
      counts.push(getEventListeners(stop.signal, "abort").length);
      if (counts.length === 50) stop.abort();
      return { sealed: 0, seals: 0 };
    });
    const { privateKey } = generateKeyPairSync("ed25519");
    await runSealerLoop({} as Store, privateKey, { signal: stop.signal, everyMs: 1 });
    expect(counts).toHaveLength(50);
    expect(new Set(counts)).toEqual(new Set([0]));
  });

  it("a wait on a signal that already aborted returns at once and adds no listener", async () => {
    const stop = new AbortController();
    stop.abort();
    const started = performance.now();
    await pause(60_000, stop.signal);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(getEventListeners(stop.signal, "abort")).toHaveLength(0);
  });

  it("an abort during the wait ends it and removes the listener", async () => {
    const stop = new AbortController();
    const waiting = pause(60_000, stop.signal);
    expect(getEventListeners(stop.signal, "abort")).toHaveLength(1);
    stop.abort();
    await waiting;
    expect(getEventListeners(stop.signal, "abort")).toHaveLength(0);
  });

  it("warns when it signs with another key than the newest seal's, naming key ids and never a key", async () => {
    const { lines, restore } = captureLogLines();
    const stop = new AbortController();
    const { sealLog } = await import("../eventStore");
    vi.mocked(sealLog).mockImplementation(async (_store, _key, options) => {
      options?.onKeyChange?.({ seq: 7, previousKeyId: "1ce14f42984d7008", keyId: "06dbb3dc49367277" });
      stop.abort();
      return { sealed: 1, seals: 1 };
    });
    const { privateKey } = generateKeyPairSync("ed25519");
    try {
      await runSealerLoop({} as Store, privateKey, { signal: stop.signal, everyMs: 1 });
    } finally {
      restore();
    }
    const warning = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.level === "warn");
    expect(warning).toMatchObject({ component: "audit", seq: 7, previousKeyId: "1ce14f42984d7008", keyId: "06dbb3dc49367277" });
    expect(warning?.msg).toMatch(/audit signing key changed: .*AUDIT_VERIFY_PUBLIC_KEYS/);
    expect(lines.join("\n")).not.toContain("PRIVATE KEY");
  });
});
