// How GoTrue answers over HTTP (its helpers.go and the CORS it is served with): JSON bodies, CORS for the browser,
// the API-version header that picks the error shape, and the plain-text answers of its router.

export const API_VERSION_HEADER = "X-Supabase-Api-Version";
const API_VERSION_2024 = "2024-01-01";

/** The API version a request asks for: 2024-01-01 (or later) selects the newer error shape, else null. */
export function apiVersionOf(req: Request): string | null {
  const v = req.headers.get(API_VERSION_HEADER);
  if (!v || !/^\d{4}-\d{2}-\d{2}$/.test(v) || Number.isNaN(Date.parse(`${v}T00:00:00Z`))) return null;
  return v >= API_VERSION_2024 ? API_VERSION_2024 : null;
}

export function corsHeaders(req: Request, headers: Headers): void {
  const origin = req.headers.get("origin");
  if (!origin) return;
  headers.set("Access-Control-Allow-Origin", origin);
  headers.set("Access-Control-Allow-Credentials", "true");
  headers.set("Access-Control-Expose-Headers", "X-Total-Count, Link, X-Supabase-Api-Version");
  headers.append("Vary", "Origin");
}

/** GoTrue's sendJSON, with the CORS headers the request's origin needs. */
export function json(req: Request, status: number, body: unknown, extra?: HeadersInit): Response {
  const headers = new Headers(extra);
  headers.set("content-type", "application/json");
  corsHeaders(req, headers);
  return new Response(JSON.stringify(body), { status, headers });
}

/** 204 with CORS headers (logout). */
export function noContent(req: Request): Response {
  const headers = new Headers();
  corsHeaders(req, headers);
  return new Response(null, { status: 204, headers });
}

/** What Go's router answers for an unknown path (404) or a known path with another method (405). */
export function notFoundText(req: Request, status = 404): Response {
  const headers = new Headers({ "content-type": "text/plain; charset=utf-8" });
  corsHeaders(req, headers);
  return new Response(status === 404 ? "404 page not found\n" : "", { status, headers });
}

export function preflight(req: Request): Response {
  const headers = new Headers();
  const origin = req.headers.get("origin");
  headers.set("Access-Control-Allow-Origin", origin ?? "*");
  if (origin) headers.set("Access-Control-Allow-Credentials", "true");
  headers.set("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE, OPTIONS");
  headers.set(
    "Access-Control-Allow-Headers",
    req.headers.get("access-control-request-headers") ??
      "Accept, Authorization, Content-Type, X-Client-Info, apikey, X-Supabase-Api-Version, X-JWT-AUD",
  );
  headers.set("Access-Control-Max-Age", "3600");
  headers.append("Vary", "Origin");
  return new Response(null, { status: 204, headers });
}
