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

/**
 * The account is out of credit: 429 with type and code `insufficient_quota`. It does not clear on retry, yet the SDK
 * retries it like any 429 (openai-node src/client.ts `shouldRetry`: every 429 unless `x-should-retry: false`, which the
 * API does not send here; langchain-ai/langchainjs#1929, openai/openai-python#3507). Body as reported verbatim in
 * ChatGPTNextWeb/NextChat#3123 and, with today's docs link, HeyPuter/puter#1977.
 */
export function insufficientQuota(): OpenAiError {
  return new OpenAiError(
    429,
    "You exceeded your current quota, please check your plan and billing details. For more information on this " +
      "error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.",
    "insufficient_quota",
    null,
    "insufficient_quota",
  );
}

/** How the API writes a reset duration in `x-ratelimit-reset-*`: "20ms", "1s", "6m0s", "1h2m3s". */
export function resetDuration(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  const total = ms / 1000;
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = +(total % 60).toFixed(3);
  if (h) return `${h}h${m}m${s}s`;
  if (m) return `${m}m${s}s`;
  return `${s}s`;
}

/**
 * A request-rate limit: 429 `rate_limit_exceeded` (type `requests`), worded as the API words it (openai/codex#10060:
 * "Rate limit reached for … on requests per min (RPM): Limit 3000, Used 3000, Requested 1. Please try again in 20ms.
 * Visit https://platform.openai.com/account/rate-limits to learn more."), with the `x-ratelimit-*` headers of
 * https://platform.openai.com/docs/guides/rate-limits#rate-limits-in-headers (remaining 0, reset as "1s"/"6m0s").
 * No `retry-after`: the documented headers are these, so a client must read the reset itself.
 */
export function rateLimitExceeded(model: string | null, resetMs: number): OpenAiError {
  const reset = resetDuration(resetMs);
  return new OpenAiError(
    429,
    `Rate limit reached for ${model ?? "default"} in organization org-switchboardstandin on requests per min (RPM): ` +
      `Limit 3, Used 3, Requested 1. Please try again in ${reset}. Visit https://platform.openai.com/account/rate-limits ` +
      "to learn more.",
    "requests",
    null,
    "rate_limit_exceeded",
    {
      "x-ratelimit-limit-requests": "3",
      "x-ratelimit-remaining-requests": "0",
      "x-ratelimit-reset-requests": reset,
      "x-ratelimit-limit-tokens": "150000",
      "x-ratelimit-remaining-tokens": "150000",
      "x-ratelimit-reset-tokens": "0s",
    },
  );
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
