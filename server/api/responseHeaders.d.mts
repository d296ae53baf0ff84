export type ResponseHeader = { key: string; value: string };
export function securityHeaders(development: boolean): ResponseHeader[];
export const apiHeaders: ResponseHeader[];
