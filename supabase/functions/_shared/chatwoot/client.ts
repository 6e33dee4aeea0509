// The one Chatwoot HTTP client every function and tool uses: typed requests, zod-validated
// responses, a per-host rate limiter, Retry-After on 429, timeouts, and retries only where
// repeating the request cannot do the work twice. Errors carry Chatwoot's own message.

import { z } from "zod";
import { type RateLimiter, unlimited } from "./rate_limit.ts";
import { CHATWOOT_EVENT_NAMES } from "./events.ts";

export type ChatwootErrorKind =
  | "http" // Chatwoot answered with an error status
  | "rate_limited" // 429 still there after the allowed retries
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

  /** Worth trying again later (as a job retry). 4xx other than 429 are not. */
  get transient(): boolean {
    return this.kind !== "invalid_response" && !(this.kind === "http" && (this.status ?? 0) < 500);
  }
}

export interface ChatwootClientOptions {
  baseUrl: string;
  /** `api_access_token` header: a user, bot or platform-app token. */
  token: string;
  fetch?: typeof fetch;
  limiter?: RateLimiter;
  timeoutMs?: number;
  /** Retries of a request that is safe to repeat (GET, or any request refused before it ran). */
  maxRetries?: number;
  /** A Retry-After longer than this is not slept through: the error goes to the caller (a job retry). */
  maxRetryAfterMs?: number;
  sleep?: (ms: number) => Promise<void>;
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

function parseRetryAfter(header: string | null): number | null {
  if (!header) return null;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(header);
  return Number.isNaN(date) ? null : Math.max(0, date - Date.now());
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
            api_access_token: this.opts.token,
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
        const retryAfterMs = parseRetryAfter(res.headers.get("retry-after")) ?? 1000 * 2 ** (attempt - 1);
        if (attempt <= maxRetries && retryAfterMs <= (this.opts.maxRetryAfterMs ?? 30_000)) {
          await sleep(retryAfterMs);
          continue;
        }
        throw new ChatwootError(`Chatwoot rate-limited ${method} ${path} (429)`, "rate_limited", 429, [], retryAfterMs);
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
