// What the stand-in says when it cannot serve a request, in OpenAI's own error body shape
// `{"error":{"message","type","param","code"}}`, so the SDK raises the same error classes it would against the API.

import type { ZodError } from "zod";

export class OpenAiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string = "invalid_request_error",
    readonly param: string | null = null,
    readonly code: string | null = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  body(): { error: { message: string; type: string; param: string | null; code: string | null } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export function invalidRequest(message: string, param: string | null = null, code: string | null = null): OpenAiError {
  return new OpenAiError(400, message, "invalid_request_error", param, code);
}

export function modelNotFound(model: string): OpenAiError {
  return new OpenAiError(
    404,
    `The model \`${model}\` does not exist or you do not have access to it.`,
    "invalid_request_error",
    "model",
    "model_not_found",
  );
}

/** A zod failure as OpenAI reports a bad parameter: the first problem, with its path as `param`. */
export function fromZodError(error: ZodError): OpenAiError {
  const issue = error.issues[0];
  const param = issue?.path.length ? pathToParam(issue.path) : null;
  const where = param ? `'${param}'` : "The request body";
  return invalidRequest(`Invalid request: ${where}: ${issue?.message ?? "invalid value"}`, param);
}

function pathToParam(path: readonly PropertyKey[]): string {
  return path.map((part, i) => typeof part === "number" ? `[${part}]` : `${i ? "." : ""}${String(part)}`).join("");
}

/** The default body for a scripted failure given only a status, worded as OpenAI words those failures. */
export function defaultErrorFor(status: number): OpenAiError {
  if (status === 401) {
    return new OpenAiError(
      401,
      "Incorrect API key provided (scripted).",
      "invalid_request_error",
      null,
      "invalid_api_key",
    );
  }
  if (status === 429) {
    return new OpenAiError(
      429,
      "Rate limit reached for requests (scripted by the stand-in). Please try again later.",
      "requests",
      null,
      "rate_limit_exceeded",
    );
  }
  if (status >= 500) {
    return new OpenAiError(
      status,
      "The server had an error while processing your request. Sorry about that! (scripted by the stand-in)",
      "server_error",
    );
  }
  return new OpenAiError(status, `Scripted failure with status ${status}.`);
}
