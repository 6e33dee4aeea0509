// Local stand-in for pg_cron + pg_net: wakes the jobs-worker function over HTTP when a job is
// enqueued (LISTEN switchboard_jobs, which fires on commit) and on a short tick for retries
// whose backoff has elapsed and for jobs whose worker died. Never deployed.

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
  stats(): { invocations: number; failures: number; lastError: string | null };
}

export async function startJobDriver(opts: JobDriverOptions): Promise<JobDriver> {
  const log = opts.log ?? ((m: string) => console.error(m));
  const sql = postgres(opts.dbUrl, { max: 2, onnotice: () => {}, connection: { application_name: "job-driver" } });
  const concurrency = opts.concurrency ?? 2;
  let running = 0;
  let pending = false;
  let closed = false;
  const stats = { invocations: 0, failures: 0, lastError: null as string | null };

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
    } catch (err) {
      stats.failures++;
      stats.lastError = err instanceof Error ? err.message : String(err);
      if (!closed) log(`job driver: ${stats.lastError}`);
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
    stats: () => ({ ...stats }),
    async close() {
      closed = true;
      clearInterval(tick);
      await listener.unlisten().catch(() => {});
      while (running > 0) await new Promise((r) => setTimeout(r, 50));
      await sql.end({ timeout: 2 });
    },
  };
}
