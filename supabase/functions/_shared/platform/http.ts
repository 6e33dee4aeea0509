// HTTP conventions shared by every function: JSON responses, errors as values with a reason a
// person can act on, and a request id carried through logs.

export function json(body: unknown, status = 200, headers: HeadersInit = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
  });
}

/** `{ error: { code, message, details? } }`: code for programs, message for people. */
export function errorResponse(status: number, code: string, message: string, details?: unknown): Response {
  return json({ error: { code, message, ...(details === undefined ? {} : { details }) } }, status);
}

export function requestId(req: Request): string {
  return req.headers.get("x-request-id") ?? crypto.randomUUID();
}

/** The path after the function's own name: `/jobs-worker/run` → `/run`. Works whether or not
 * the platform keeps the `/functions/v1` prefix. */
export function subPath(req: Request, functionName: string): string {
  const path = new URL(req.url).pathname;
  const marker = `/${functionName}`;
  const at = path.indexOf(marker);
  if (at < 0) return path;
  const rest = path.slice(at + marker.length);
  return rest === "" ? "/" : rest;
}
