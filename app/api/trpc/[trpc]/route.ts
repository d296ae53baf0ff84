import { contextForRequest, handleTrpcRequest } from "@/server/api/http";

const handler = (req: Request) => handleTrpcRequest(req, (responseHeaders) => contextForRequest(req, responseHeaders));

export { handler as GET, handler as POST };
