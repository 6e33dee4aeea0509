// Per-host request budgets for Chatwoot. The Postgres-backed limiter is shared by every worker
// and function instance (Chatwoot counts requests per client IP, across all tenants); the
// in-memory one serves tests and single-process tools.

import type { Sql } from "../platform/db.ts";
import type { PrivateFunctionReturns } from "../platform/rows.ts";

export interface RateLimiter {
  /** Resolves when a request to `key` may be sent; returns how long it waited (ms). */
  acquire(key: string): Promise<number>;
}

export interface BucketOptions {
  /** Requests per minute (Chatwoot's RACK_ATTACK_LIMIT default is 3,000 per IP). */
  perMinute: number;
  /** Burst size; defaults to one second's worth. */
  burst?: number;
  sleep?: (ms: number) => Promise<void>;
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function postgresRateLimiter(sql: Sql, opts: BucketOptions): RateLimiter {
  const perSecond = opts.perMinute / 60;
  const capacity = opts.burst ?? Math.max(1, Math.ceil(perSecond));
  const sleep = opts.sleep ?? defaultSleep;
  return {
    async acquire(key) {
      let waited = 0;
      for (;;) {
        const [row] = await sql<{ wait: PrivateFunctionReturns<"take_rate_limit_token"> }[]>`
          select private.take_rate_limit_token(${`chatwoot:${key}`}, ${capacity}, ${perSecond}) as wait`;
        const waitMs = Math.ceil(Number(row.wait) * 1000);
        if (waitMs <= 0) return waited;
        await sleep(waitMs);
        waited += waitMs;
      }
    },
  };
}

export function memoryRateLimiter(opts: BucketOptions & { now?: () => number }): RateLimiter {
  const perMs = opts.perMinute / 60_000;
  const capacity = opts.burst ?? Math.max(1, Math.ceil(opts.perMinute / 60));
  const now = opts.now ?? Date.now;
  const sleep = opts.sleep ?? defaultSleep;
  const buckets = new Map<string, { tokens: number; at: number }>();
  return {
    async acquire(key) {
      let waited = 0;
      for (;;) {
        const t = now();
        const b = buckets.get(key) ?? { tokens: capacity, at: t };
        b.tokens = Math.min(capacity, b.tokens + (t - b.at) * perMs);
        b.at = t;
        buckets.set(key, b);
        if (b.tokens >= 1) {
          b.tokens -= 1;
          return waited;
        }
        const waitMs = Math.ceil((1 - b.tokens) / perMs);
        await sleep(waitMs);
        waited += waitMs;
      }
    },
  };
}

export const unlimited: RateLimiter = { acquire: () => Promise.resolve(0) };
