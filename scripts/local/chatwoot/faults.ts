// Fault injection: rules that make the sandbox misbehave the way a real Chatwoot and its network do.
// API-side modes (429, 500, latency, work_then_drop) act on requests; webhook-side modes (drop, duplicate,
// reorder, delay) act on deliveries. A rule applies N times (`count`), with a probability, or always.

import { z } from "zod";

export const API_FAULT_MODES = ["429", "500", "latency", "work_then_drop"] as const;
export const WEBHOOK_FAULT_MODES = ["drop", "duplicate", "reorder", "delay"] as const;

export const FaultRuleInput = z.object({
  mode: z.enum([...API_FAULT_MODES, ...WEBHOOK_FAULT_MODES]),
  /**
   * Glob (`*` = any characters, `/` included). API rules match the request path; webhook rules match
   * the destination URL or its path. Omitted = every request / every delivery.
   */
  path: z.string().min(1).optional(),
  /** API rules only: HTTP method. */
  method: z.string().toUpperCase().optional(),
  /** Webhook rules only: event name, e.g. "message_created". */
  event: z.string().optional(),
  /** Apply to the next N matches, then stop. */
  count: z.number().int().positive().optional(),
  /** Apply to each match with this probability (0–1), e.g. 0.05 for 5 % faults. */
  probability: z.number().min(0).max(1).optional(),
  /** `delay` and `latency`: milliseconds; `reorder`: how long a partial batch is held (default 1000). */
  ms: z.number().int().min(0).optional(),
  /** `429`: the Retry-After header, in seconds (default 1). */
  retry_after: z.number().int().min(0).optional(),
  /**
   * `duplicate`: send the copy with the same X-Chatwoot-Delivery, as a retried job does (a bot's 429/500
   * retry, a Sidekiq redelivery); default false = a second dispatch with a new id, like issue #11901.
   */
  same_delivery_id: z.boolean().optional(),
  /** `reorder`: deliveries held before the batch is released in reverse order (default 2). */
  hold: z.number().int().min(2).optional(),
});
export type FaultRuleInput = z.input<typeof FaultRuleInput>;
export type FaultRule = z.output<typeof FaultRuleInput> & { id: string; applied: number };

export function isApiMode(mode: FaultRule["mode"]): boolean {
  return (API_FAULT_MODES as readonly string[]).includes(mode);
}

function globToRegExp(glob: string): RegExp {
  const escaped = glob.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*");
  return new RegExp(`^${escaped}$`);
}

export class FaultInjector {
  #rules: FaultRule[] = [];
  #patterns = new Map<string, RegExp>();
  #seq = 0;
  #listeners: ((rule: FaultRule) => void)[] = [];

  constructor(private readonly random: () => number = Math.random) {}

  add(input: FaultRuleInput): FaultRule {
    const parsed = FaultRuleInput.parse(input);
    const rule: FaultRule = { ...parsed, id: `fault_${++this.#seq}`, applied: 0 };
    if (rule.path) this.#patterns.set(rule.id, globToRegExp(rule.path));
    this.#rules.push(rule);
    for (const listener of this.#listeners) listener(rule);
    return rule;
  }

  /** Called with every rule added (the server closes idle connections for `work_then_drop`). */
  onAdd(listener: (rule: FaultRule) => void): void {
    this.#listeners.push(listener);
  }

  /** Whether a rule of this mode may still fire. */
  hasActive(mode: FaultRule["mode"]): boolean {
    return this.#rules.some((r) => r.mode === mode && (r.count === undefined || r.applied < r.count));
  }

  remove(id: string): boolean {
    const before = this.#rules.length;
    this.#rules = this.#rules.filter((r) => r.id !== id);
    this.#patterns.delete(id);
    return this.#rules.length !== before;
  }

  clear(): void {
    this.#rules = [];
    this.#patterns.clear();
  }

  list(): FaultRule[] {
    return this.#rules.map((r) => ({ ...r }));
  }

  /** The API rules that fire for this request, in the order they were added. */
  forRequest(method: string, path: string): FaultRule[] {
    return this.#fire((rule) =>
      isApiMode(rule.mode) && (!rule.method || rule.method === method) && this.#pathMatches(rule, [path])
    );
  }

  /** The webhook rules that fire for this delivery. */
  forDelivery(url: string, event: string): FaultRule[] {
    let pathname = url;
    try {
      pathname = new URL(url).pathname;
    } catch { /* keep the raw string */ }
    return this.#fire((rule) =>
      !isApiMode(rule.mode) && (!rule.event || rule.event === event) && this.#pathMatches(rule, [url, pathname])
    );
  }

  #pathMatches(rule: FaultRule, candidates: string[]): boolean {
    const pattern = this.#patterns.get(rule.id);
    return !pattern || candidates.some((c) => pattern.test(c));
  }

  #fire(matches: (rule: FaultRule) => boolean): FaultRule[] {
    const fired: FaultRule[] = [];
    for (const rule of this.#rules) {
      if (!matches(rule)) continue;
      if (rule.count !== undefined && rule.applied >= rule.count) continue;
      if (rule.probability !== undefined && this.random() >= rule.probability) continue;
      rule.applied++;
      fired.push(rule);
    }
    return fired;
  }
}
