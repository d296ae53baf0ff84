// A request body's size limit, for every endpoint that reads one (tRPC, sign-in).
/**
 * The request with a body that fails with `tooLarge()` as soon as it passes `maxBytes` (whatever
 * Content-Length says: a chunked body has none, and a wrong one must not let more through).
 */
export function limitBody(req: Request, maxBytes: number, tooLarge: () => Error): Request {
  if (!req.body) return req;
  const declared = Number(req.headers.get("content-length") ?? "0");
  const reader = req.body.getReader();
  let seen = 0;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (declared > maxBytes) {
        controller.error(tooLarge());
        await reader.cancel();
        return;
      }
      const { done, value } = await reader.read();
      if (done) {
        controller.close();
        return;
      }
      seen += value.byteLength;
      if (seen > maxBytes) {
        controller.error(tooLarge());
        await reader.cancel();
        return;
      }
      controller.enqueue(value);
    },
    cancel: (reason) => reader.cancel(reason),
  });
  return new Request(req, { body, duplex: "half" } as RequestInit & { duplex: "half" });
}
