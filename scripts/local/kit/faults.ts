// The stand-ins' fault-rule engine: which requests a rule matches (method, path glob, a stand-in's own test), how
// often it fires (count, probability), and what one request gets — delays add up, one rule decides the answer.

import { z } from "zod";

/** The fields all rules share; a stand-in's schema spreads them in next to its own modes. */
export const faultRuleFields = {
  /** HTTP method to match (any when omitted). */
  method: z.string().toUpperCase().optional(),
  /**
   * Glob (`*` = any characters, `/` included) over the request path, or over a destination URL or its path. A glob
   * with a `?` in it is matched against path and query string: `/storage/v1/b/*\/o/*?alt=media*`. Omitted = all.
   */
  path: z.string().min(1).optional(),
  /** Fire for the next N matches, then stop. */
  count: z.number().int().positive().optional(),
  /** Fire for each match with this probability (0–1), e.g. 0.05 for 5 % faults. */
  probability: z.number().min(0).max(1).optional(),
};

/** What the engine reads of a rule; the rest is the stand-in's. */
export interface RuleFields {
  method?: string;
  path?: string;
  count?: number;
  probability?: number;
}

export type FaultRule<T> = T & { id: string; applied: number };

/** What the fired rules ask of one request. */
export interface FaultPlan<R> {
  /** Total delay (ms) from the rules that only slow the request down. */
  delayMs: number;
  /** The first fired rule that decides the answer (only it is counted: one such fault per request). */
  terminal?: R;
}

export interface FaultRulesOptions<T> {
  /** Random source for `probability` (tests pass a fixed one). */
  random?: () => number;
  /** Rule ids are this prefix and a sequence number (default `fault_`). */
  idPrefix?: string;
  /** How long a rule that only delays waits; undefined = the rule decides the answer. */
  delayOf?: (rule: T) => number | undefined;
  /** Rules that cut the connection: while one may fire, `mayDropConnection()` is true. */
  dropsConnection?: (rule: T) => boolean;
}

function globToRegExp(glob: string): RegExp {
  const escaped = glob.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*");
  return new RegExp(`^${escaped}$`, "s");
}

/** What a path glob is tried against: a path (with its query when the glob has one), or a URL and its path. */
function globTargets(target: string, withQuery: boolean): string[] {
  let url: URL | undefined;
  try {
    url = new URL(target);
  } catch { /* a path, not a URL */ }
  if (!url) return [withQuery ? target : target.split("?")[0]];
  return [target, url.pathname + (withQuery ? url.search : "")];
}

export class FaultRules<S extends z.ZodType<RuleFields>> {
  #rules: FaultRule<z.output<S>>[] = [];
  #patterns = new Map<string, RegExp>();
  #seq = 0;
  #listeners: ((rule: FaultRule<z.output<S>>) => void)[] = [];
  readonly #random: () => number;

  constructor(readonly schema: S, private readonly opts: FaultRulesOptions<z.output<S>> = {}) {
    this.#random = opts.random ?? Math.random;
  }

  /** Validates (a ZodError for a bad rule) and adds a rule; it fires after the ones added before it. */
  add(input: unknown): FaultRule<z.output<S>> {
    return this.addAll([input])[0];
  }

  /** Validates every rule first, so a bad one adds none. */
  addAll(inputs: unknown[]): FaultRule<z.output<S>>[] {
    const parsed = inputs.map((input) => this.schema.parse(input));
    return parsed.map((fields) => {
      const rule = { ...fields, id: `${this.opts.idPrefix ?? "fault_"}${++this.#seq}`, applied: 0 };
      if (rule.path) this.#patterns.set(rule.id, globToRegExp(rule.path));
      this.#rules.push(rule);
      for (const listener of this.#listeners) listener(rule);
      return { ...rule };
    });
  }

  /** Called with every rule added (a server closes idle connections when a dropping rule arrives). */
  onAdd(listener: (rule: FaultRule<z.output<S>>) => void): void {
    this.#listeners.push(listener);
  }

  /** Whether a rule the predicate accepts may still fire. */
  hasActive(which: (rule: FaultRule<z.output<S>>) => boolean): boolean {
    return this.#rules.some((r) => which(r) && !this.#exhausted(r));
  }

  /** Whether this rule cuts the connection when it fires. */
  dropsConnection(rule: z.output<S>): boolean {
    return this.opts.dropsConnection?.(rule) ?? false;
  }

  /** Whether a connection-dropping rule may still fire (then every connection should be single-use). */
  mayDropConnection(): boolean {
    return this.hasActive((rule) => this.dropsConnection(rule));
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

  list(): FaultRule<z.output<S>>[] {
    return this.#rules.map((r) => ({ ...r }));
  }

  /** Whether the rule's method and path glob accept this request (or delivery: `method` undefined, `target` a URL). */
  matches(rule: FaultRule<z.output<S>>, method: string | undefined, target: string): boolean {
    if (rule.method && method !== undefined && rule.method !== method) return false;
    const pattern = this.#patterns.get(rule.id);
    return !pattern || globTargets(target, rule.path!.includes("?")).some((t) => pattern.test(t));
  }

  /** Every rule `accepts` takes fires, counted, in the order added (deliveries: drop and duplicate together). */
  fire(accepts: (rule: FaultRule<z.output<S>>) => boolean): FaultRule<z.output<S>>[] {
    const fired: FaultRule<z.output<S>>[] = [];
    for (const rule of this.#rules) {
      if (!this.#fires(rule, accepts)) continue;
      rule.applied++;
      fired.push(rule);
    }
    return fired;
  }

  /** The plan for this request among the rules `accepts` takes (all by default), matched by method and path glob. */
  forRequest(
    method: string,
    url: URL,
    accepts: (rule: FaultRule<z.output<S>>) => boolean = () => true,
  ): FaultPlan<FaultRule<z.output<S>>> {
    return this.plan((rule) => accepts(rule) && this.matches(rule, method, url.pathname + url.search));
  }

  /** The plan for one request: delaying rules add up; the first other rule decides, later ones are not counted. */
  plan(accepts: (rule: FaultRule<z.output<S>>) => boolean): FaultPlan<FaultRule<z.output<S>>> {
    const plan: FaultPlan<FaultRule<z.output<S>>> = { delayMs: 0 };
    for (const rule of this.#rules) {
      if (!this.#fires(rule, accepts)) continue;
      const delay = this.opts.delayOf?.(rule);
      if (delay === undefined && plan.terminal) continue;
      rule.applied++;
      if (delay === undefined) plan.terminal = rule;
      else plan.delayMs += delay;
    }
    return plan;
  }

  #exhausted(rule: FaultRule<z.output<S>>): boolean {
    return rule.count !== undefined && rule.applied >= rule.count;
  }

  #fires(rule: FaultRule<z.output<S>>, accepts: (rule: FaultRule<z.output<S>>) => boolean): boolean {
    if (!accepts(rule) || this.#exhausted(rule)) return false;
    return rule.probability === undefined || this.#random() < rule.probability;
  }
}

/**
 * Resolves after `ms` (Infinity = never), or as soon as one of `signals` aborts; true if it ran its full course.
 * Listeners are removed afterwards: Deno.serve aborts `request.signal` after every response too, which must not
 * reach a finished wait.
 */
export function delay(ms: number, ...signals: AbortSignal[]): Promise<boolean> {
  if (signals.some((s) => s.aborted)) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (full: boolean) => {
      clearTimeout(timer);
      for (const s of signals) s.removeEventListener("abort", onAbort);
      resolve(full);
    };
    const onAbort = () => done(false);
    const timer = Number.isFinite(ms) ? setTimeout(() => done(true), ms) : undefined;
    for (const s of signals) s.addEventListener("abort", onAbort, { once: true });
  });
}
