// Fault injection: rules that make the emulator misbehave the way GCS and its network sometimes do — 503 and
// 429 answers (with Retry-After), slow answers, stalled responses (nothing, or headers and part of the body, then
// silence), dropped connections. A rule matches by method and path glob and fires `count` times, with a
// probability, or always.

import { z } from "zod";

export const FAULT_MODES = ["503", "429", "slow", "stall", "drop"] as const;

export const FaultRuleInput = z.object({
  mode: z.enum(FAULT_MODES),
  /** HTTP method to match (any when omitted). */
  method: z.string().toUpperCase().optional(),
  /**
   * Glob over the request path (`*` = any characters, `/` included), e.g. `/storage/v1/b/*\/o/*`. A glob with
   * a `?` in it is matched against path and query string: `/storage/v1/b/*\/o/*?alt=media*`.
   */
  path: z.string().min(1).optional(),
  /** Fire for the next N matching requests, then stop. */
  count: z.number().int().positive().optional(),
  /** Fire for each matching request with this probability (0–1). */
  probability: z.number().min(0).max(1).optional(),
  /** `slow`: delay in ms before the request is handled (default 1000). */
  ms: z.number().int().min(0).optional(),
  /** `503`/`429`: the Retry-After header, in seconds. */
  retry_after: z.number().int().min(0).optional(),
  /** `stall`: send the status line, headers and this many body bytes, then stall (implies the work is done). */
  bytes: z.number().int().min(0).optional(),
  /** `stall`/`drop`: do the request's work first (an upload is stored, then the client sees the fault). */
  after_work: z.boolean().optional(),
});
export type FaultRuleInput = z.input<typeof FaultRuleInput>;
export type FaultRule = z.output<typeof FaultRuleInput> & { id: string; applied: number };

function globToRegExp(glob: string): RegExp {
  const escaped = glob.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*");
  return new RegExp(`^${escaped}$`, "s");
}

/** What the fired rules ask of one request. */
export interface FaultPlan {
  /** Total delay (ms) before handling. */
  delayMs: number;
  /** The first fired rule other than `slow`. */
  terminal?: FaultRule;
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
    return { ...rule };
  }

  /** Called with every rule added (the server closes idle keep-alive connections for `drop`). */
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

  /** Fires the rules matching this request (counting them as applied) and says what to do. */
  forRequest(method: string, path: string, search = ""): FaultPlan {
    const plan: FaultPlan = { delayMs: 0 };
    for (const rule of this.#rules) {
      if (rule.method && rule.method !== method) continue;
      const pattern = this.#patterns.get(rule.id);
      if (pattern && !pattern.test(rule.path!.includes("?") ? path + search : path)) continue;
      if (rule.count !== undefined && rule.applied >= rule.count) continue;
      if (rule.probability !== undefined && this.random() >= rule.probability) continue;
      if (rule.mode !== "slow" && plan.terminal) continue; // one terminal fault per request
      rule.applied++;
      if (rule.mode === "slow") plan.delayMs += rule.ms ?? 1000;
      else plan.terminal = rule;
    }
    return plan;
  }
}
