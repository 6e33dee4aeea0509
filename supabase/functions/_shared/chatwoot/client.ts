// The one Chatwoot HTTP client every function and tool uses: typed requests, zod-validated
// responses, a per-host rate limiter, 429s waited out to the end of Rack::Attack's window,
// timeouts, and retries only where repeating the request cannot do the work twice. Errors carry
// Chatwoot's own message.

import { z } from "zod";
import { type RateLimiter, unlimited } from "./rate_limit.ts";
import { CHATWOOT_EVENT_NAMES } from "./events.ts";

export type ChatwootErrorKind =
  | "http" // Chatwoot answered with an error status
  | "rate_limited" // 429 still there after the allowed retries, or a wait longer than a run allows
  | "api_closed" // Chatwoot Cloud's free plan: the account refuses every token call (and sends no webhooks)
  | "timeout" // no answer in time: the request may or may not have been applied
  | "network" // the connection failed or dropped: same uncertainty
  | "invalid_response"; // an answer this client cannot read

export class ChatwootError extends Error {
  constructor(
    message: string,
    readonly kind: ChatwootErrorKind,
    readonly status: number | null = null,
    readonly attributes: string[] = [],
    readonly retryAfterMs: number | null = null,
  ) {
    super(message);
    this.name = "ChatwootError";
  }

  /** The request may have been applied although no answer said so: reconcile before repeating. */
  get outcomeUnknown(): boolean {
    return this.kind === "timeout" || this.kind === "network" || (this.kind === "http" && (this.status ?? 0) >= 500);
  }

  /** Worth trying again later (as a job retry). 4xx other than 429 are not, nor a closed API. */
  get transient(): boolean {
    return this.kind !== "invalid_response" && this.kind !== "api_closed" &&
      !(this.kind === "http" && (this.status ?? 0) < 500);
  }
}

/** Api::V1::Accounts::BaseController#validate_token_api_access (PR #14973): on Chatwoot Cloud an account
 * without the `api_and_webhooks` feature (the free plan since July 2026) answers every user- or bot-token call
 * with 403 and this error. A token that is merely not an administrator's gets 401 instead (render_unauthorized). */
export const API_CLOSED_ERROR = "API access is not enabled for this account";

/** What a person reads when an account's API is closed: what happened and what to do. */
export function apiClosedMessage(accountId: number | string): string {
  return `this Chatwoot Cloud account (${accountId}) is on the free plan: its API is closed to access tokens ` +
    `and it sends no webhooks (Chatwoot answered 403 "${API_CLOSED_ERROR}"). Move the account to a paid plan ` +
    "in Chatwoot (Settings → Billing), then link it again: npx switchboard accounts link …";
}

/** Rack::Attack counts in fixed windows aligned to the epoch (key `now / period`), and both throttles an
 * integration meets (3000/min per IP, 100/min contact searches) have `period: 1.minute`. */
export const RACK_ATTACK_WINDOW_MS = 60_000;

export interface ChatwootClientOptions {
  baseUrl: string;
  /** Sent as `Api-Access-Token`: a user, bot or platform-app token. */
  token: string;
  fetch?: typeof fetch;
  limiter?: RateLimiter;
  timeoutMs?: number;
  /** Retries of a request that is safe to repeat (GET, or any request refused before it ran). */
  maxRetries?: number;
  /** A 429 wait longer than this is not slept through: the error (with the wait) goes to the caller, whose
   * job defers itself for that long (default 15 s: a job run has 45 s). */
  maxRetryAfterMs?: number;
  sleep?: (ms: number) => Promise<void>;
  /** The clock the 429 window is computed from (tests inject one). */
  now?: () => number;
  /** Jitter source in [0, 1): spreads the callers that all waited for the same window boundary. */
  random?: () => number;
  /** Observes every attempt (for benchmarks and logs). */
  onAttempt?: (info: { method: string; path: string; status: number | null; waitedMs: number }) => void;
}

export interface RequestOptions<S extends z.ZodType> {
  query?: Record<string, string | number | boolean | undefined | null>;
  body?: unknown;
  schema: S;
  /** Repeating it cannot apply it twice (GET/PUT/DELETE by id). POSTs are not, by default. */
  idempotent?: boolean;
}

const errorBody = z.looseObject({
  message: z.string().optional(),
  error: z.string().optional(),
  errors: z.array(z.string()).optional(),
  attributes: z.array(z.string()).optional(),
});

function parseRetryAfter(header: string | null, now: number): number | null {
  if (!header) return null;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

/** Up to this much is added to a 429 wait, so callers released by one window boundary do not all arrive at
 * once, and a clock a little behind Chatwoot's still lands in the next window. */
const WINDOW_JITTER_MS = 1_000;
const WINDOW_MARGIN_MS = 250;

/**
 * How long to wait after a 429. Chatwoot's throttle (rack-attack's default response) sends no Retry-After: the
 * limit holds until the fixed window ends, so retrying after a second or two only burns requests in the same
 * window. Wait until the next minute boundary, plus a margin and jitter. A Retry-After (a proxy in front, or
 * rack-attack configured to send it) is honoured when present.
 */
export function rateLimitWaitMs(retryAfter: string | null, now: number, random: () => number): number {
  const jitter = WINDOW_MARGIN_MS + Math.floor(random() * WINDOW_JITTER_MS);
  const header = parseRetryAfter(retryAfter, now);
  if (header !== null) return header + jitter;
  return RACK_ATTACK_WINDOW_MS - (now % RACK_ATTACK_WINDOW_MS) + jitter;
}

export class ChatwootClient {
  readonly baseUrl: string;
  readonly host: string;
  private readonly fetchFn: typeof fetch;
  private readonly limiter: RateLimiter;

  /** Requests that must not be sent twice go over connections that are never reused: Deno's
   * fetch silently resends a request whose kept-alive connection turns out to be dead, which
   * for a POST could create a second account or inbox without anyone knowing. */
  private readonly freshConnections: Deno.HttpClient | null;

  constructor(private readonly opts: ChatwootClientOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, "");
    this.host = new URL(this.baseUrl).host;
    this.fetchFn = opts.fetch ?? fetch;
    this.limiter = opts.limiter ?? unlimited;
    this.freshConnections = opts.fetch ? null : Deno.createHttpClient({ poolMaxIdlePerHost: 0 });
  }

  close(): void {
    this.freshConnections?.close();
  }

  async request<S extends z.ZodType>(method: string, path: string, ro: RequestOptions<S>): Promise<z.infer<S>> {
    const url = new URL(this.baseUrl + path);
    for (const [k, v] of Object.entries(ro.query ?? {})) {
      if (v !== undefined && v !== null) url.searchParams.set(k, String(v));
    }
    const idempotent = ro.idempotent ?? (method === "GET" || method === "HEAD");
    const maxRetries = this.opts.maxRetries ?? 3;
    const sleep = this.opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
    let attempt = 0;
    for (;;) {
      attempt++;
      const waitedMs = await this.limiter.acquire(this.host);
      let res: Response;
      try {
        res = await this.fetchFn(url, {
          method,
          headers: {
            // Chatwoot reads `api_access_token` or HTTP_API_ACCESS_TOKEN (AccessTokenAuthHelper#ensure_access_token);
            // the dashed form arrives as the latter and survives nginx, which drops headers with underscores.
            "Api-Access-Token": this.opts.token,
            accept: "application/json",
            ...(ro.body === undefined ? {} : { "content-type": "application/json" }),
          },
          body: ro.body === undefined ? undefined : JSON.stringify(ro.body),
          signal: AbortSignal.timeout(this.opts.timeoutMs ?? 10_000),
          ...(idempotent || !this.freshConnections ? {} : { client: this.freshConnections }),
        } as RequestInit);
      } catch (err) {
        this.opts.onAttempt?.({ method, path, status: null, waitedMs });
        const timedOut = err instanceof DOMException && (err.name === "TimeoutError" || err.name === "AbortError");
        const e = new ChatwootError(
          timedOut
            ? `Chatwoot did not answer ${method} ${path} within ${this.opts.timeoutMs ?? 10_000} ms`
            : `Chatwoot ${method} ${path} failed: ${err instanceof Error ? err.message : err}`,
          timedOut ? "timeout" : "network",
        );
        if (idempotent && attempt <= maxRetries) {
          await sleep(Math.min(8000, 250 * 2 ** (attempt - 1)));
          continue;
        }
        throw e;
      }
      this.opts.onAttempt?.({ method, path, status: res.status, waitedMs });
      const text = await res.text();
      if (res.status === 429) {
        // Rack::Attack throttles before the application runs: a 429 is always safe to repeat.
        const retryAfterMs = rateLimitWaitMs(
          res.headers.get("retry-after"),
          (this.opts.now ?? Date.now)(),
          this.opts.random ?? Math.random,
        );
        if (attempt <= maxRetries && retryAfterMs <= (this.opts.maxRetryAfterMs ?? 15_000)) {
          await sleep(retryAfterMs);
          continue;
        }
        throw new ChatwootError(
          `Chatwoot rate-limited ${method} ${path} (429): its window ends in ${Math.ceil(retryAfterMs / 1000)} s`,
          "rate_limited",
          429,
          [],
          retryAfterMs,
        );
      }
      if (!res.ok) {
        if (res.status >= 500 && idempotent && attempt <= maxRetries) {
          await sleep(Math.min(8000, 250 * 2 ** (attempt - 1)));
          continue;
        }
        let detail = text.slice(0, 300);
        let attributes: string[] = [];
        try {
          const b = errorBody.parse(JSON.parse(text));
          detail = b.message ?? b.error ?? b.errors?.join("; ") ?? detail;
          attributes = b.attributes ?? [];
        } catch { /* not JSON: keep the text */ }
        if (res.status === 403 && detail === API_CLOSED_ERROR) {
          const account = /^\/api\/v\d\/accounts\/(\d+)/.exec(path)?.[1] ?? "?";
          throw new ChatwootError(apiClosedMessage(account), "api_closed", 403);
        }
        throw new ChatwootError(
          `Chatwoot ${method} ${path} → ${res.status}: ${detail}`,
          "http",
          res.status,
          attributes,
        );
      }
      let data: unknown;
      try {
        data = text === "" ? {} : JSON.parse(text);
      } catch {
        throw new ChatwootError(`Chatwoot ${method} ${path} answered non-JSON`, "invalid_response", res.status);
      }
      const parsed = ro.schema.safeParse(data);
      if (!parsed.success) {
        const issues = parsed.error.issues.slice(0, 3).map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
        throw new ChatwootError(
          `Chatwoot ${method} ${path} answered an unexpected shape: ${issues}`,
          "invalid_response",
        );
      }
      return parsed.data;
    }
  }
}

// ── Application API: the calls this project makes ───────────────────────────────────────────

/** Every account-webhook event: a registered webhook subscribes to all of them. */
export const CHATWOOT_WEBHOOK_EVENTS = CHATWOOT_EVENT_NAMES;

export const webhookSchema = z.looseObject({
  id: z.number(),
  url: z.string(),
  subscriptions: z.array(z.string()).nullish(),
  secret: z.string().nullish(),
  name: z.string().nullish(),
});
export type ChatwootWebhook = z.infer<typeof webhookSchema>;

export async function listWebhooks(client: ChatwootClient, accountId: number): Promise<ChatwootWebhook[]> {
  const res = await client.request("GET", `/api/v1/accounts/${accountId}/webhooks`, {
    schema: z.looseObject({
      payload: z.union([z.array(webhookSchema), z.looseObject({ webhooks: z.array(webhookSchema) })]),
    }),
  });
  return Array.isArray(res.payload) ? res.payload : res.payload.webhooks;
}

export async function createWebhook(
  client: ChatwootClient,
  accountId: number,
  input: { url: string; subscriptions?: readonly string[]; name?: string },
): Promise<ChatwootWebhook> {
  const res = await client.request("POST", `/api/v1/accounts/${accountId}/webhooks`, {
    body: { url: input.url, subscriptions: input.subscriptions ?? CHATWOOT_WEBHOOK_EVENTS, name: input.name },
    schema: z.looseObject({ payload: z.looseObject({ webhook: webhookSchema }) }),
  });
  return res.payload.webhook;
}

export async function updateWebhook(
  client: ChatwootClient,
  accountId: number,
  webhookId: number,
  input: { url: string; subscriptions?: readonly string[] },
): Promise<ChatwootWebhook> {
  const res = await client.request("PATCH", `/api/v1/accounts/${accountId}/webhooks/${webhookId}`, {
    body: { url: input.url, subscriptions: input.subscriptions ?? CHATWOOT_WEBHOOK_EVENTS },
    schema: z.looseObject({ payload: z.looseObject({ webhook: webhookSchema }) }),
    idempotent: true,
  });
  return res.payload.webhook;
}

const looseArray = z.array(z.looseObject({}));

/** One page of conversations (Chatwoot pages by 25), most recently active first. */
export async function listConversations(
  client: ChatwootClient,
  accountId: number,
  opts: { page: number; status?: string },
): Promise<{ conversations: Record<string, unknown>[]; allCount: number | null }> {
  const res = await client.request("GET", `/api/v1/accounts/${accountId}/conversations`, {
    query: { status: opts.status ?? "all", assignee_type: "all", page: opts.page, sort_by: "last_activity_at_desc" },
    schema: z.looseObject({
      data: z.looseObject({
        meta: z.looseObject({ all_count: z.number().nullish() }).nullish(),
        payload: looseArray,
      }),
    }),
  });
  return { conversations: res.data.payload, allCount: res.data.meta?.all_count ?? null };
}

/** Messages of one conversation, newest page first; `before` pages back by message id. */
export async function listMessages(
  client: ChatwootClient,
  accountId: number,
  displayId: number,
  opts: { before?: number } = {},
): Promise<Record<string, unknown>[]> {
  const res = await client.request("GET", `/api/v1/accounts/${accountId}/conversations/${displayId}/messages`, {
    query: { before: opts.before },
    schema: z.looseObject({ payload: looseArray }),
  });
  return res.payload;
}
