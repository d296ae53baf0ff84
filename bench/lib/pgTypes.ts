// node-postgres keeps its type parsers in one process-wide table. Emmett's driver (dumbo)
// rewrites it when it opens its pool: int8 becomes BigInt and json/jsonb are parsed with a
// BigInt-aware reviver. Our store (through @prisma/adapter-pg) and the raw baseline must read
// with the stock parsers, and the peer with its own, so each contender installs its parsers
// before it is measured. Contenders never run at the same time, so switching is safe.
import pg from "pg";

type Parser = (value: string) => unknown;

const oids = [...new Set(Object.values(pg.types.builtins) as number[])];
const stock = new Map<number, Parser>(oids.map((oid) => [oid, pg.types.getTypeParser(oid, "text") as Parser]));
let peer = new Map<number, Parser>();

/** Call once the peer's pool exists: remembers what it changed, then restores the stock table. */
export function capturePeerParsers(): void {
  peer = new Map();
  for (const oid of oids) {
    const parser = pg.types.getTypeParser(oid, "text") as Parser;
    if (parser !== stock.get(oid)) peer.set(oid, parser);
  }
  installStockParsers();
}

export function installStockParsers(): void {
  for (const oid of peer.keys()) pg.types.setTypeParser(oid, "text", stock.get(oid)!);
}

export function installPeerParsers(): void {
  for (const [oid, parser] of peer) pg.types.setTypeParser(oid, "text", parser);
}

/** The type oids the peer's driver changed (reported in the results, for the record). */
export const peerParserOids = (): number[] => [...peer.keys()];
