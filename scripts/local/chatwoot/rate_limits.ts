// Rack::Attack as Chatwoot configures it (config/initializers/rack_attack.rb): fixed windows aligned to the
// period, counted per key before any controller runs, and rack-attack's default throttled response.

/** The throttles this sandbox enforces, by the env names Chatwoot reads them from. */
export interface RackAttackLimits {
  /** `ENABLE_RACK_ATTACK` (Chatwoot: on in production unless set to false). */
  enabled: boolean;
  /** `RACK_ATTACK_LIMIT`: throttle 'req/ip', default 3000 per `period: 1.minute`, keyed by `req.ip`. */
  perIp: number;
  /** `RATE_LIMIT_CONTACT_SEARCH`: '/api/v1/accounts/:account_id/contacts/search', default 100 per 1.minute,
   * keyed by the account id in the path. */
  contactSearch: number;
}

export const DEFAULT_RACK_ATTACK: RackAttackLimits = { enabled: true, perIp: 3000, contactSearch: 100 };

/** Both throttles above use `period: 1.minute`. */
export const RACK_ATTACK_PERIOD_MS = 60_000;

/** `CONVERSATION_MESSAGE_PER_MINUTE_LIMIT` (lib/limits.rb): a model validation, not a Rack throttle. */
export const CONVERSATION_MESSAGES_PER_MINUTE = 200;

export class Throttle {
  #windows = new Map<string, { window: number; count: number }>();

  constructor(private readonly now: () => number) {}

  /** Counts one request (Rack::Attack::Cache#count: key `"#{prefix}:#{now / period}:#{name}:#{discriminator}"`,
   * so a window starts at a multiple of the period since the epoch); `retryAfterSeconds` is what is left of it. */
  hit(key: string, limit: number, periodMs: number): { allowed: boolean; retryAfterSeconds: number } {
    const now = this.now();
    const window = Math.floor(now / periodMs);
    const entry = this.#windows.get(key);
    const current = entry && entry.window === window ? entry : { window, count: 0 };
    current.count++;
    this.#windows.set(key, current);
    const retryAfterSeconds = Math.ceil((periodMs - (now % periodMs)) / 1000);
    return { allowed: current.count <= limit, retryAfterSeconds };
  }

  clear(): void {
    this.#windows.clear();
  }
}

const CONTACT_SEARCH_PATH = /\/api\/v1\/accounts\/(\d+)\/contacts\/search/;

/**
 * Rack::Attack's middleware pass over one request: every throttle whose block returns a discriminator counts
 * the request (`Configuration#throttled?` is an `any?`, so counting stops at the first throttle that trips, in
 * definition order: 'req/ip' first). Over a limit, rack-attack's DEFAULT_THROTTLED_RESPONSE
 * (lib/rack/attack/configuration.rb): 429, `Content-Type: text/plain`, "Retry later\n", and no Retry-After
 * (`throttled_response_retry_after_header` defaults to false; Chatwoot never sets it).
 */
export function rackAttack(
  throttle: Throttle,
  limits: RackAttackLimits,
  req: Request,
  url: URL,
): Response | undefined {
  if (!limits.enabled) return undefined;
  // `req.ip`: the client's address; behind a proxy Rails trusts, the first X-Forwarded-For hop.
  const ip = req.headers.get("x-forwarded-for")?.split(",")[0].trim() || "client";
  if (!throttle.hit(`req/ip:${ip}`, limits.perIp, RACK_ATTACK_PERIOD_MS).allowed) return rackAttackThrottled();
  const search = CONTACT_SEARCH_PATH.exec(url.pathname);
  if (search && !throttle.hit(`contacts/search:${search[1]}`, limits.contactSearch, RACK_ATTACK_PERIOD_MS).allowed) {
    return rackAttackThrottled();
  }
  return undefined;
}

export function rackAttackThrottled(): Response {
  return new Response("Retry later\n", { status: 429, headers: { "content-type": "text/plain" } });
}
