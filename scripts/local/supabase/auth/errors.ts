// GoTrue's errors (errors.go, apierrors): HTTPError with its error code, OAuthError for the token endpoint, and
// both bodies it renders — `{code, error_code, msg}`, or `{code, message}` when API version 2024-01-01 is asked for.

import { API_VERSION_HEADER, apiVersionOf, json } from "./response.ts";

/** GoTrue's HTTPError: `{code, error_code, msg}`, or `{code, message}` for API version 2024-01-01. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: string,
    message: string,
    readonly weakPasswordReasons?: string[],
  ) {
    super(message);
  }
}

/** GoTrue's OAuthError: `{error, error_description}`, always 400. */
export class OAuthError extends Error {
  constructor(readonly error: string, readonly description: string) {
    super(description);
  }
}

export const badRequest = (code: string, msg: string) => new HttpError(400, code, msg);
export const forbidden = (code: string, msg: string) => new HttpError(403, code, msg);
export const notFound = (code: string, msg: string) => new HttpError(404, code, msg);
export const unprocessable = (code: string, msg: string) => new HttpError(422, code, msg);
export const unexpectedFailure = (msg: string) => new HttpError(500, "unexpected_failure", msg);

/** A transaction that must commit and still answer with an error (GoTrue's NewCommitWithError). */
export class CommitWithError {
  constructor(readonly error: HttpError) {}
}

type Json = Record<string, unknown>;

export function errorResponse(req: Request, err: unknown): Response {
  const headers = new Headers();
  const version = apiVersionOf(req);
  if (version) headers.set(API_VERSION_HEADER, version);
  if (err instanceof OAuthError) {
    const body: Json = { error: err.error };
    if (err.description) body.error_description = err.description;
    return json(req, 400, body, headers);
  }
  let e: HttpError;
  if (err instanceof HttpError) {
    e = err;
  } else {
    console.error("auth: unhandled error:", err);
    e = unexpectedFailure("Unexpected failure, please check server logs for more information");
  }
  if (e.errorCode) headers.set("x-sb-error-code", e.errorCode);
  let body: Json;
  if (version) {
    body = { code: e.errorCode || (e.status === 500 ? "unexpected_failure" : "unknown"), message: e.message };
  } else {
    body = { code: e.status, error_code: e.errorCode || "unknown", msg: e.message };
  }
  if (e.weakPasswordReasons) body.weak_password = { reasons: e.weakPasswordReasons };
  return json(req, e.status, body, headers);
}
