import { contextForRequest, handleTrpcRequest } from "@/server/api/http";

const handler = (req: Request) => handleTrpcRequest(req, (responseHeaders, correlationId) => contextForRequest(req, responseHeaders, correlationId));

export { handler as GET, handler as POST };
