// Backfill: every customer of some stores through the same sync round the jobs run, with a few
// rounds in flight, inside the shared per-host rate limit. Resumable by construction: a customer
// synced since their last change is skipped without a request, and a contact created just
// before an interrupt is found again by its identifier instead of being created twice.

import type { Sql } from "../platform/db.ts";
import type { Row } from "../platform/rows.ts";
import { Deferred, RetryLater } from "../jobs/queue.ts";
import type { RateLimiter } from "../chatwoot/rate_limit.ts";
import { syncCustomer, type SyncOutcome } from "./sync.ts";

export interface BackfillReport {
  total: number;
  done: number;
  created: number;
  updated: number;
  linked: number;
  unchanged: number;
  /** Synced since their last change: not even read. */
  skipped: number;
  conflicts: number;
  failed: number;
  noAccount: number;
  requests: number;
  rateLimitWaitMs: number;
  failures: { customerId: string; error: string }[];
}

export interface BackfillOptions {
  storeIds: string[];
  concurrency?: number;
  /** Called after each customer. */
  onProgress?: (r: BackfillReport) => void;
  signal?: AbortSignal;
  /** In-process retries of a round that asked to be retried later (429, token not there yet). */
  maxRetries?: number;
}

export async function backfillContacts(
  deps: { sql: Sql; limiter: RateLimiter; fetch?: typeof fetch },
  opts: BackfillOptions,
): Promise<BackfillReport> {
  const report: BackfillReport = {
    total: 0,
    done: 0,
    created: 0,
    updated: 0,
    linked: 0,
    unchanged: 0,
    skipped: 0,
    conflicts: 0,
    failed: 0,
    noAccount: 0,
    requests: 0,
    rateLimitWaitMs: 0,
    failures: [],
  };
  const rows = await deps.sql<(Pick<Row<"customers">, "id"> & { fresh: boolean })[]>`
    select c.id, (l.synced_at is not null and l.synced_at >= c.updated_at) as fresh
    from public.customers c
    left join public.customer_contact_links l on l.customer_id = c.id
    where c.store_id = any(${opts.storeIds}::uuid[])
    order by c.store_id, c.created_at, c.id`;
  report.total = rows.length;
  const queue = rows.filter((r) => {
    if (!r.fresh) return true;
    report.skipped++;
    report.done++;
    return false;
  }).map((r) => r.id);
  opts.onProgress?.(report);

  const syncDeps = {
    ...deps,
    onRequest: (i: { waitedMs: number }) => {
      report.requests++;
      report.rateLimitWaitMs += i.waitedMs;
    },
  };
  const count: Record<SyncOutcome, keyof BackfillReport> = {
    created: "created",
    updated: "updated",
    linked: "linked",
    unchanged: "unchanged",
    no_account: "noAccount",
    gone: "skipped",
  };
  const worker = async () => {
    for (;;) {
      if (opts.signal?.aborted) return;
      const id = queue.shift();
      if (!id) return;
      for (let attempt = 0;; attempt++) {
        try {
          const r = await syncCustomer(syncDeps, id);
          (report[count[r.outcome]] as number)++;
          report.conflicts += r.conflicts;
          break;
        } catch (err) {
          // A rate-limit window (Deferred) is waited out whole: retrying inside it only spends requests.
          const waitMs = err instanceof Deferred
            ? Math.min(err.delayMs, 65_000)
            : err instanceof RetryLater
            ? Math.min(err.retryInMs ?? 2000, 30_000)
            : null;
          if (waitMs !== null && attempt < (opts.maxRetries ?? 3)) {
            const wait = waitMs;
            report.rateLimitWaitMs += wait;
            await new Promise((r) => setTimeout(r, wait));
            continue;
          }
          report.failed++;
          report.failures.push({ customerId: id, error: err instanceof Error ? err.message : String(err) });
          break;
        }
      }
      report.done++;
      opts.onProgress?.(report);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, opts.concurrency ?? 4) }, worker));
  return report;
}
