// The address a request really came from, for sign-in rate limiting.
//
// A Next.js route handler sees no socket. `next start` copies the socket's address into
// X-Forwarded-For only when the client sent none, so that header is whatever a client chooses.
// recordPeerAddresses() (peerAddress.ts, called from instrumentation.ts in the server's process)
// subscribes to Node's `http.server.request.start` diagnostics channel, which fires for every
// request before any handler runs, and stamps the socket's address into a private header after
// deleting any value a client sent. X-Forwarded-For is believed only as far as TRUSTED_PROXIES
// says: a hop count, or the proxies' addresses (CIDR ranges allowed).
import { z } from "zod";

export const PEER_HEADER = "x-emr-peer-address";
export const peerHookKey = Symbol.for("emr.peerAddressHook");

type Net = { bytes: number[]; prefix: number };
export type TrustedProxies = { kind: "none" } | { kind: "hops"; hops: number } | { kind: "list"; nets: Net[] };

/** Whether this process stamps requests (otherwise the header may be a client's forgery). */
export function peerAddressesRecorded(): boolean {
  return (globalThis as Record<symbol, unknown>)[peerHookKey] === true;
}

const ipv4 = z.ipv4();
const ipv6 = z.ipv6();
const isIP = (a: string) => (ipv4.safeParse(a).success ? 4 : ipv6.safeParse(a).success ? 6 : 0);

function bytesOf(address: string): number[] | null {
  const v4mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (v4mapped) address = v4mapped[1]!;
  const kind = isIP(address);
  if (kind === 4) return address.split(".").map(Number);
  if (kind !== 6) return null;
  const [head, tail = ""] = address.split("::");
  const groups = (s: string) => (s ? s.split(":") : []);
  let left = groups(head!);
  let right = address.includes("::") ? groups(tail) : [];
  // An embedded IPv4 tail (::ffff:1.2.3.4 forms other than the one above) becomes two groups.
  const fix = (list: string[]) => {
    const last = list.at(-1);
    if (last && last.includes(".")) {
      const [a, b, c, d] = last.split(".").map(Number) as [number, number, number, number];
      return [...list.slice(0, -1), ((a << 8) | b).toString(16), ((c << 8) | d).toString(16)];
    }
    return list;
  };
  left = fix(left);
  right = fix(right);
  const missing = 8 - left.length - right.length;
  const all = [...left, ...Array<string>(Math.max(0, missing)).fill("0"), ...right];
  return all.flatMap((g) => {
    const n = parseInt(g, 16);
    return [(n >> 8) & 255, n & 255];
  });
}

function parseNet(entry: string): Net | null {
  const [address, prefixText] = entry.split("/");
  const bytes = address ? bytesOf(address.trim()) : null;
  if (!bytes) return null;
  const max = bytes.length * 8;
  if (prefixText === undefined) return { bytes, prefix: max };
  if (!/^\d+$/.test(prefixText)) return null;
  const prefix = Number(prefixText);
  return prefix <= max ? { bytes, prefix } : null;
}

function inNet(bytes: number[], net: Net): boolean {
  if (bytes.length !== net.bytes.length) return false;
  for (let bit = 0; bit < net.prefix; bit += 8) {
    const take = Math.min(8, net.prefix - bit);
    const mask = (0xff << (8 - take)) & 0xff;
    if (((bytes[bit / 8] ?? 0) & mask) !== ((net.bytes[bit / 8] ?? 0) & mask)) return false;
  }
  return true;
}

/**
 * TRUSTED_PROXIES: unset or "0" (no proxy: the socket's address), a hop count ("1": one reverse
 * proxy in front), or a comma-separated list of the proxies' addresses or CIDR ranges.
 */
export function parseTrustedProxies(value: string | undefined): TrustedProxies {
  const text = value?.trim() ?? "";
  if (text === "" || text === "0") return { kind: "none" };
  if (/^\d+$/.test(text)) {
    const hops = Number(text);
    if (hops > 10) throw new Error("a hop count is at most 10");
    return { kind: "hops", hops };
  }
  const entries = text.split(",").map((s) => s.trim()).filter(Boolean);
  const nets = entries.map(parseNet);
  const bad = entries.filter((_, i) => nets[i] === null);
  if (bad.length > 0) throw new Error(`not an address or CIDR range: ${bad.join(", ")}`);
  return { kind: "list", nets: nets as Net[] };
}

/** The client's address, or null when nothing trustworthy says it. */
export function clientAddress(headers: Headers, trusted: TrustedProxies): string | null {
  const peer = peerAddressesRecorded() ? headers.get(PEER_HEADER)?.trim() || null : null;
  const valid = (a: string | null | undefined) => (a && bytesOf(a) ? a : null);
  if (trusted.kind === "none") return valid(peer);
  const forwarded = (headers.get("x-forwarded-for") ?? "").split(",").map((s) => s.trim()).filter(Boolean);
  if (trusted.kind === "hops") {
    // Nearest first: the socket's peer (proxy 1), then each proxy's view of the one before it.
    const chain = [peer, ...forwarded.reverse()];
    return valid(chain[Math.min(trusted.hops, chain.length - 1)]);
  }
  // A list: believe forwarded addresses only when the socket's peer is one of the proxies.
  const peerBytes = peer ? bytesOf(peer) : null;
  if (!peerBytes) return null;
  if (!trusted.nets.some((n) => inNet(peerBytes, n))) return peer;
  let client = peer;
  for (const hop of forwarded.reverse()) {
    const bytes = bytesOf(hop);
    if (!bytes) return null;
    client = hop;
    if (!trusted.nets.some((n) => inNet(bytes, n))) break;
  }
  return client;
}
