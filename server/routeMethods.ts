// HEAD and OPTIONS for a route handler whose GET does something: records (an audit extract) or
// writes (a cron drain). Next answers a HEAD with the route's GET when the route exports no HEAD,
// and throws the body away: a HEAD would record an extract nobody received, or drain the outbox
// for a caller that reads no answer. Such a route exports these, and a HEAD does nothing.

/** `allow`: the methods the route exports (OPTIONS is added); HEAD is not among them. */
export function withoutHead(allow: readonly ("GET" | "POST")[]): { HEAD: () => Response; OPTIONS: () => Response } {
  // Next's own OPTIONS would list HEAD once it is exported: this one says what is answered.
  const headers = { allow: [...allow, "OPTIONS"].sort().join(", ") };
  return {
    HEAD: () => new Response(null, { status: 405, headers }),
    OPTIONS: () => new Response(null, { status: 204, headers }),
  };
}
