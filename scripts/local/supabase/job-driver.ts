// Local stand-in for pg_cron + pg_net: wakes the jobs-worker function over HTTP when a job is
// enqueued (LISTEN switchboard_jobs, which fires on commit) and on a short tick for retries
// whose backoff has elapsed and for jobs whose worker died. While the worker cannot be reached it
// backs off (pg_cron would keep firing into the void; a local driver that did logged hundreds of
// 502s), and when the runtime says the worker's process died, the jobs it held are reclaimable at
// once instead of after their visibility timeout. Never deployed.

import postgres from "postgres";

export interface JobDriverOptions {
  dbUrl: string;
  workerUrl: string;
  /** The project's secret key, sent as `apikey` (pg_cron reads it from Vault on hosted). */
  secretKey: string;
  tickMs?: number;
  /** Concurrent worker invocations while the queue is deep (the platform runs many). */
  concurrency?: number;
  log?: (msg: string) => void;
}

export interface JobDriver {
  close(): Promise<void>;
  stats(): { invocations: number; failures: number; lastError: string | null; backoffMs: number };
  /** The worker process that ran as `executionId` died: its leases expire now. Returns how many. */
  workerDied(executionId: string): Promise<number>;
  /** The worker is back: stop backing off and run it now. */
  resume(): void;
}

/** The wait after the n-th consecutive failure: 250 ms doubling to 10 s. */
export function failureBackoffMs(failures: number): number {
  return failures <= 0 ? 0 : Math.min(10_000, 250 * 2 ** (failures - 1));
}

export async function startJobDriver(opts: JobDriverOptions): Promise<JobDriver> {
  const log = opts.log ?? ((m: string) => console.error(m));
  const sql = postgres(opts.dbUrl, { max: 2, onnotice: () => {}, connection: { application_name: "job-driver" } });
  const concurrency = opts.concurrency ?? 2;
  let running = 0;
  let pending = false;
  let closed = false;
  const stats = { invocations: 0, failures: 0, lastError: null as string | null };
  let consecutiveFailures = 0;
  let backoffUntil = 0;
  let backoffTimer: ReturnType<typeof setTimeout> | null = null;

  const invoke = async () => {
    running++;
    try {
      stats.invocations++;
      const res = await fetch(opts.workerUrl, {
        method: "POST",
        headers: { apikey: opts.secretKey, "content-type": "application/json" },
        body: "{}",
      });
      const body = await res.json().catch(() => ({}));
      if (!res.ok) throw new Error(`jobs-worker answered ${res.status}: ${JSON.stringify(body)}`);
      // A full run may have left more work: go again rather than wait for the tick.
      if ((body.claimed ?? 0) > 0) pending = true;
      if (consecutiveFailures > 0) log(`job driver: the worker answers again after ${consecutiveFailures} failures`);
      consecutiveFailures = 0;
      backoffUntil = 0;
    } catch (err) {
      stats.failures++;
      consecutiveFailures++;
      stats.lastError = err instanceof Error ? err.message : String(err);
      const wait = failureBackoffMs(consecutiveFailures);
      backoffUntil = Date.now() + wait;
      // Said once per doubling, not once per attempt.
      if (!closed && (consecutiveFailures & (consecutiveFailures - 1)) === 0) {
        log(`job driver: ${stats.lastError} (failure ${consecutiveFailures}; next try in ${wait} ms)`);
      }
      if (!closed && !backoffTimer) {
        backoffTimer = setTimeout(() => {
          backoffTimer = null;
          wake();
        }, wait);
      }
    } finally {
      running--;
      if (pending && !closed) {
        pending = false;
        wake();
      }
    }
  };

  const wake = () => {
    if (closed) return;
    if (Date.now() < backoffUntil) return; // the backoff timer wakes it
    if (running < concurrency) invoke();
    else pending = true;
  };

  const listener = await sql.listen("switchboard_jobs", () => wake());
  const tick = setInterval(async () => {
    if (closed || running > 0) return;
    try {
      const [row] = await sql`
        select exists(select 1 from private.jobs where status = 'queued' and run_at <= now())
            or exists(select 1 from private.jobs where status = 'running' and locked_until < now()) as due`;
      if (row.due) wake();
    } catch (err) {
      if (!closed) log(`job driver: ${err instanceof Error ? err.message : err}`);
    }
  }, opts.tickMs ?? 250);
  wake();

  return {
    stats: () => ({ ...stats, backoffMs: Math.max(0, backoffUntil - Date.now()) }),
    async workerDied(executionId) {
      const [row] = await sql<{ n: number }[]>`
        with expired as (
          update private.jobs set locked_until = now(), updated_at = now()
           where status = 'running' and locked_by = ${`jobs-worker:${executionId}`}
          returning 1)
        select count(*)::int as n from expired`;
      if (row.n > 0) log(`job driver: ${row.n} jobs held by the dead worker are reclaimable now`);
      return row.n;
    },
    resume() {
      consecutiveFailures = 0;
      backoffUntil = 0;
      wake();
    },
    async close() {
      closed = true;
      clearInterval(tick);
      if (backoffTimer) clearTimeout(backoffTimer);
      await listener.unlisten().catch(() => {});
      while (running > 0) await new Promise((r) => setTimeout(r, 50));
      await sql.end({ timeout: 2 });
    },
  };
}
