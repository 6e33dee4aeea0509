// Rack::Attack-style throttles (config/initializers/rack_attack.rb): fixed windows aligned to the period,
// counted per key, answering how long until the window resets.

/** `RATE_LIMIT_CONTACT_SEARCH`: 100 requests per minute per account. */
export const CONTACT_SEARCH_LIMIT = { limit: 100, periodMs: 60_000 };
/** `CONVERSATION_MESSAGE_PER_MINUTE_LIMIT` (lib/limits.rb): a model validation, not a Rack throttle. */
export const CONVERSATION_MESSAGES_PER_MINUTE = 200;

export class Throttle {
  #windows = new Map<string, { window: number; count: number }>();

  constructor(private readonly now: () => number) {}

  /** Counts one request; `retryAfterSeconds` is set when the request is over the limit. */
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
