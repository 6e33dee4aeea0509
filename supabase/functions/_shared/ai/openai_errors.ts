// What an OpenAI(-compatible) failure means for the work that met it: an account out of quota (stop and pause the
// AI: retrying never helps), a rate limit (wait until it resets), a passing fault (retry), or a refusal of this input.

import OpenAI from "openai";
import { RetryLater } from "../jobs/queue.ts";

/** The account is out of credit (429 `insufficient_quota`): nothing clears it but its owner, so the AI is paused
 * (pause.ts) instead of retried. Neither RetryLater nor PermanentFailure: whoever meets it decides what pausing means
 * for its work (a reply hands off, an embedding job waits for the resume). */
export class AiQuotaExhausted extends Error {
  constructor(readonly endpoint: "chat" | "embeddings" | "transcriptions", readonly apiMessage: string) {
    super(`the OpenAI account is out of quota (insufficient_quota, on ${endpoint}): ${apiMessage}`);
    this.name = "AiQuotaExhausted";
  }
}

/** A rate limit (429 `rate_limit_exceeded`, or a 429 without a code): try again once it resets. */
export class AiRateLimited extends RetryLater {
  constructor(message: string, retryInMs?: number) {
    super(message, retryInMs);
    this.name = "AiRateLimited";
  }
}

/** The API's own message in an SDK error (the SDK's `message` starts with the status). */
export function apiMessage(err: InstanceType<typeof OpenAI.APIError>): string {
  const body = err.error as { message?: unknown } | undefined;
  return typeof body?.message === "string" ? body.message : err.message;
}

/** Whether an error body or SDK error says `insufficient_quota` (as its code or, on older accounts, its type). */
export function isInsufficientQuota(err: unknown): err is InstanceType<typeof OpenAI.APIError> {
  if (!(err instanceof OpenAI.APIError) || err.status !== 429) return false;
  return err.code === "insufficient_quota" || err.type === "insufficient_quota";
}

/**
 * A fetch for the SDK that marks a 429 `insufficient_quota` as not to be retried. openai-node retries every 429
 * unless the response says `x-should-retry: false` (src/client.ts `shouldRetry`), and the API does not say so for an
 * exhausted quota (langchain-ai/langchainjs#1929, openai/openai-python#3507): without this a client with
 * `maxRetries: 1` asks twice for what cannot succeed. Rate limits keep the SDK's retries.
 */
export function openAiFetch(base: typeof fetch = fetch): typeof fetch {
  return async (input, init) => {
    const res = await base(input, init);
    if (res.status !== 429 || res.headers.get("x-should-retry")) return res;
    const text = await res.text();
    let quota = false;
    try {
      const error = JSON.parse(text)?.error;
      quota = error?.code === "insufficient_quota" || error?.type === "insufficient_quota";
    } catch {
      // Not JSON: an ordinary 429.
    }
    const headers = new Headers(res.headers);
    if (quota) headers.set("x-should-retry", "false");
    return new Response(text, { status: res.status, statusText: res.statusText, headers });
  };
}

/** "20ms", "1s", "6m0s", "1h2m3.5s" (the API's x-ratelimit-reset-* values) in milliseconds; undefined otherwise. */
export function parseResetDuration(value: string | null | undefined): number | undefined {
  if (!value) return undefined;
  const re = /(\d+(?:\.\d+)?)(ms|h|m|s)/g;
  let total = 0;
  let matched = "";
  for (const m of value.trim().matchAll(re)) {
    const n = Number(m[1]);
    total += m[2] === "ms" ? n : m[2] === "s" ? n * 1000 : m[2] === "m" ? n * 60_000 : n * 3_600_000;
    matched += m[0];
  }
  return matched && matched === value.trim() ? Math.ceil(total) : undefined;
}

/**
 * How long a 429 asks to wait: `retry-after-ms`, `retry-after` (seconds or a date), else the reset of whichever
 * `x-ratelimit-*` budget is used up (https://platform.openai.com/docs/guides/rate-limits#rate-limits-in-headers: the
 * API sends these, not necessarily a Retry-After), else the later of the two resets.
 */
export function rateLimitDelayMs(headers: Headers | undefined | null): number | undefined {
  if (!headers) return undefined;
  const ms = Number(headers.get("retry-after-ms") ?? NaN);
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const after = headers.get("retry-after");
  if (after) {
    const seconds = Number(after);
    if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
    const at = Date.parse(after);
    if (Number.isFinite(at)) return Math.max(0, at - Date.now());
  }
  const requests = parseResetDuration(headers.get("x-ratelimit-reset-requests"));
  const tokens = parseResetDuration(headers.get("x-ratelimit-reset-tokens"));
  const spent = (name: string) => headers.get(`x-ratelimit-remaining-${name}`) === "0";
  if (spent("requests") && requests !== undefined) return requests;
  if (spent("tokens") && tokens !== undefined) return tokens;
  const either = [requests, tokens].filter((v): v is number => v !== undefined);
  return either.length ? Math.max(...either) : undefined;
}

/** The API's own words for a failure: "429 Rate limit reached for …", "400 Invalid file format. …". */
export function describeApiError(err: unknown): string {
  if (err instanceof OpenAI.APIError) return `${err.status ?? "no status"} ${apiMessage(err)}`.slice(0, 500);
  return String((err as Error)?.message ?? err).slice(0, 500);
}

/** Whether retrying the same request later may succeed: timeouts, lost connections, 408, 409, 5xx. */
export function isTransient(err: unknown): boolean {
  if (err instanceof OpenAI.APIConnectionError) return true; // timeouts included (a subclass)
  if (err instanceof OpenAI.APIError) {
    const status = err.status ?? 0;
    return status === 408 || status === 409 || status >= 500;
  }
  return err instanceof Error && err.name === "AbortError";
}

/** The quota and rate-limit cases as the errors above; anything else unchanged. */
export function classifyOpenAiError(err: unknown, endpoint: AiQuotaExhausted["endpoint"]): unknown {
  if (isInsufficientQuota(err)) return new AiQuotaExhausted(endpoint, apiMessage(err));
  if (err instanceof OpenAI.APIError && err.status === 429) {
    return new AiRateLimited(`OpenAI rate limit on ${endpoint}: ${apiMessage(err)}`, rateLimitDelayMs(err.headers));
  }
  return err;
}
