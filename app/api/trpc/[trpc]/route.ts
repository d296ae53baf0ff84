import { contextForRequest, handleTrpcRequest } from "@/server/api/http";

const handler = (req: Request) => handleTrpcRequest(req, () => contextForRequest(req));

export { handler as GET, handler as POST };
