// Chatwoot's HTTP surface conventions: the error bodies of `request_exception_handler.rb` and Rails-like
// parameter reading (JSON or form body, query string); routing is the kit's `Router`.

import type { JsonObject } from "./state.ts";

/** An error that already knows the exact status and body Chatwoot answers with. */
export class ApiError extends Error {
  constructor(readonly status: number, readonly body: unknown, readonly headers: Record<string, string> = {}) {
    super(typeof body === "object" && body && "error" in body ? String((body as JsonObject).error) : `HTTP ${status}`);
  }
}

export interface FieldError {
  attribute: string;
  /** Rails full message, e.g. "Email has already been taken". */
  message: string;
}

/** `ActiveRecord::RecordInvalid`, rendered as 422 `{message, attributes}`. */
export class ValidationError extends Error {
  constructor(readonly errors: FieldError[]) {
    super(errors.map((e) => e.message).join(", "));
  }
}

export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(body === undefined ? "" : JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
  });
}

/** Rails `head :ok`. */
export function headOk(): Response {
  return new Response(null, { status: 200 });
}

export const unauthorized = (error: string) => new ApiError(401, { error });
export const notFound = () => new ApiError(404, { error: "Resource could not be found" });
export const unprocessable = (error: string) => new ApiError(422, { error });
export const forbidden = (error: string) => new ApiError(403, { error });

/** The `429` fault's answer: rack-attack's body with the seconds left as Retry-After, as a proxy (or rack-attack
 * with `throttled_response_retry_after_header = true`) sends it. Chatwoot's own throttle sends no header:
 * rate_limits.ts. */
export function throttled(retryAfterSeconds: number): Response {
  return new Response("Retry later\n", {
    status: 429,
    headers: { "content-type": "text/plain", "retry-after": String(Math.max(1, Math.ceil(retryAfterSeconds))) },
  });
}

/** What Rails serves for an unknown route in production. */
export function routeNotFound(): Response {
  return new Response("The page you were looking for doesn't exist.\n", {
    status: 404,
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}

export function errorToResponse(error: unknown): Response {
  if (error instanceof ApiError) return json(error.body, error.status, error.headers);
  if (error instanceof ValidationError) {
    const attributes = [...new Set(error.errors.map((e) => e.attribute))];
    return json({ message: error.message, attributes }, 422);
  }
  throw error;
}

/** Request body as a plain object: JSON, or a form body (Chatwoot accepts both). */
export async function readBody(req: Request): Promise<JsonObject> {
  if (req.method === "GET" || req.method === "HEAD") return {};
  const text = await req.text();
  if (!text.trim()) return {};
  const type = req.headers.get("content-type") ?? "";
  if (type.includes("application/x-www-form-urlencoded")) {
    return Object.fromEntries(new URLSearchParams(text));
  }
  try {
    const parsed = JSON.parse(text);
    if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) return parsed as JsonObject;
    return { _json: parsed };
  } catch {
    // Rails answers a malformed JSON body with 400 before any controller runs.
    throw new ApiError(400, { status: 400, error: "Bad Request" });
  }
}

/** Rails `wrap_parameters`: `{webhook:{…}}` and a flat body are the same request. */
export function unwrap(body: JsonObject, root: string): JsonObject {
  const inner = body[root];
  return inner && typeof inner === "object" && !Array.isArray(inner) ? { ...body, ...(inner as JsonObject) } : body;
}

export function asObject(value: unknown): JsonObject {
  if (value && typeof value === "object" && !Array.isArray(value)) return value as JsonObject;
  if (typeof value === "string" && value.trim().startsWith("{")) {
    try {
      return asObject(JSON.parse(value));
    } catch { /* fall through */ }
  }
  return {};
}

/**
 * Thrown by the sandbox handler after a `work_then_drop` request has been performed: the server destroys
 * the socket instead of answering, so the client sees a network error although the work was done.
 */
export class ConnectionDropped extends TypeError {
  constructor() {
    super("connection dropped by the Chatwoot sandbox (fault: work_then_drop)");
    this.name = "ConnectionDropped";
  }
}
