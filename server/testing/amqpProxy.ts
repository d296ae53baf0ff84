// A TCP proxy in front of RabbitMQ that a test can break in the ways a network or a broker breaks,
// without touching the machine's RabbitMQ (other tests share it): refuse new connections, cut the
// open ones, go silent while keeping sockets open (a black hole, a wedged node), or pass what the
// client sends while dropping the broker's replies (the broker took the messages, the confirms are
// lost: a worker killed or cut off then has published events it does not know it published).
import { createConnection, createServer, type AddressInfo, type Socket } from "node:net";

export type ProxyMode = "forward" | "refuse" | "blackHole" | "holdReplies";

export type AmqpProxy = {
  url: string;
  /** Connections accepted so far. */
  connections(): number;
  /** Bytes the clients sent towards the broker (publishes among them). */
  bytesUp(): number;
  /** Bytes of the broker's replies dropped (holdReplies, blackHole): confirms among them, of publishes still awaiting theirs. */
  bytesDropped(): number;
  /** New connections are closed at once. */
  refuse(): void;
  /** Open and new connections pass nothing either way; their sockets stay open. */
  blackHole(): void;
  /** Open connections pass the client's bytes on and drop the broker's. */
  holdReplies(): void;
  /** Every open connection is destroyed (client and broker side), as a network cut or a broker restart does. */
  cut(): void;
  /** New connections are forwarded. A connection that went silent stays silent: an AMQP stream cannot resume after lost bytes. */
  forward(): void;
  close(): void;
};

/** A proxy to `target` (an amqp:// URL); `url` is the same URL with the proxy's address. Null target: refuses everything. */
export async function amqpProxy(target: string | null): Promise<AmqpProxy> {
  let mode: ProxyMode = target ? "forward" : "refuse";
  let connections = 0;
  let up = 0;
  let dropped = 0;
  const open = new Set<Socket>();
  const server = createServer((client) => {
    connections++;
    client.on("error", () => {});
    if (mode === "refuse" || !target) return void client.destroy();
    const t = new URL(target);
    const upstream = createConnection({ host: t.hostname, port: Number(t.port || 5672) });
    upstream.on("error", () => {});
    for (const s of [client, upstream]) {
      open.add(s);
      s.on("close", () => {
        open.delete(s);
        // One side gone, the other goes too, as a real connection would.
        client.destroy();
        upstream.destroy();
      });
    }
    // Once silent in a direction, silent for good (see forward()).
    let upSilent = mode === "blackHole";
    let downSilent = mode === "blackHole";
    client.on("data", (d: Buffer) => {
      if (mode === "blackHole") upSilent = true;
      if (upSilent) return;
      up += d.length;
      upstream.write(d);
    });
    upstream.on("data", (d: Buffer) => {
      if (mode === "blackHole" || mode === "holdReplies") downSilent = true;
      if (downSilent) dropped += d.length;
      else client.write(d);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = new URL(target ?? "amqp://guest:guest@127.0.0.1:5672");
  url.hostname = "127.0.0.1";
  url.port = String((server.address() as AddressInfo).port);
  return {
    url: url.toString(),
    connections: () => connections,
    bytesUp: () => up,
    bytesDropped: () => dropped,
    refuse: () => void (mode = "refuse"),
    blackHole: () => void (mode = "blackHole"),
    holdReplies: () => void (mode = "holdReplies"),
    cut: () => {
      for (const s of [...open]) s.destroy();
    },
    forward: () => void (mode = "forward"),
    close: () => {
      for (const s of [...open]) s.destroy();
      server.close();
    },
  };
}
