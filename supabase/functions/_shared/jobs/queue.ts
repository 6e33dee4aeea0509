// The job queue seen from TypeScript: enqueue inside a caller's transaction, claim a batch,
// run registered handlers with a deadline, and record each outcome (complete, retry with
// backoff, dead-letter). The SQL side (private.*) owns the semantics; this module owns the loop.

import type { Sql, TransactionSql } from "../platform/db.ts";
import type { Logger } from "../platform/log.ts";

export interface Job {
  id: string;
  kind: string;
  payload: Record<string, unknown>;
  idempotency_key: string;
  store_id: string | null;
  attempts: number;
  max_attempts: number;
  lease: string;
  last_error: string | null;
  created_at: Date;
}

/** Throw from a handler to retry after a specific delay (e.g. a Retry-After header). */
export class RetryLater extends Error {
  constructor(message: string, readonly retryInMs?: number) {
    super(message);
    this.name = "RetryLater";
  }
}

/** Throw from a handler when retrying cannot help (bad payload, resource gone). */
export class PermanentFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PermanentFailure";
  }
}

export interface JobContext {
  sql: Sql;
  log: Logger;
  signal: AbortSignal;
}

export type JobHandler = (job: Job, ctx: JobContext) => Promise<void>;

export interface EnqueueInput {
  kind: string;
  payload?: Record<string, unknown>;
  idempotencyKey: string;
  storeId?: string | null;
  runAt?: Date;
  maxAttempts?: number;
}

/** Enqueues in the given transaction (or connection); the same key twice yields one job. */
export async function enqueueJob(sql: Sql | TransactionSql, input: EnqueueInput): Promise<string> {
  const [row] = await sql`
    select private.enqueue_job(
      ${input.kind}, ${sql.json((input.payload ?? {}) as never)}, ${input.idempotencyKey},
      ${input.storeId ?? null}::uuid, coalesce(${input.runAt ?? null}::timestamptz, now()), ${input.maxAttempts ?? 8}
    )::text as id`;
  return row.id as string;
}

export interface ClaimOptions {
  worker: string;
  limit?: number;
  visibilitySeconds?: number;
  kinds?: string[] | null;
}

export async function claimJobs(sql: Sql, opts: ClaimOptions): Promise<Job[]> {
  const rows = await sql`
    select id::text as id, kind, payload, idempotency_key, store_id, attempts, max_attempts, lease::text as lease,
           last_error, created_at
    from private.claim_jobs(${opts.worker}, ${opts.limit ?? 10},
                            make_interval(secs => ${opts.visibilitySeconds ?? 60}), ${opts.kinds ?? null}::text[])`;
  return rows as unknown as Job[];
}

export async function completeJobs(sql: Sql, jobs: Pick<Job, "id" | "lease">[]): Promise<number> {
  if (jobs.length === 0) return 0;
  const [row] = await sql`
    select private.complete_jobs(${sql.array(jobs.map((j) => j.id))}::bigint[], ${
    sql.array(jobs.map((j) => j.lease))
  }::uuid[]) as n`;
  return row.n as number;
}

export type FailOutcome = "queued" | "dead" | "lost";

export async function failJob(
  sql: Sql,
  job: Pick<Job, "id" | "lease">,
  error: string,
  opts: { retryInMs?: number; permanent?: boolean } = {},
): Promise<FailOutcome> {
  const retry = opts.retryInMs === undefined ? null : opts.retryInMs / 1000;
  const [row] = await sql`
    select private.fail_job(${job.id}::bigint, ${job.lease}::uuid, ${error},
      case when ${retry}::float8 is null then null else make_interval(secs => ${retry}::float8) end,
      ${opts.permanent ?? false})::text as status`;
  return (row.status ?? "lost") as FailOutcome;
}

export async function replayJob(sql: Sql, id: string): Promise<boolean> {
  const [row] = await sql`select private.replay_job(${id}::bigint) as ok`;
  return row.ok as boolean;
}

export interface BatchSummary {
  claimed: number;
  completed: number;
  retried: number;
  dead: number;
  lost: number;
}

export interface RunBatchOptions {
  sql: Sql;
  handlers: Record<string, JobHandler>;
  log: Logger;
  worker: string;
  limit?: number;
  visibilitySeconds?: number;
  /** A handler running longer than this is abandoned and its job retried. Keep below visibility. */
  jobTimeoutMs?: number;
}

function describe(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

/** Claims one batch of jobs whose kinds have handlers, runs them concurrently, records outcomes. */
export async function runJobBatch(opts: RunBatchOptions): Promise<BatchSummary> {
  const kinds = Object.keys(opts.handlers);
  const visibilitySeconds = opts.visibilitySeconds ?? 60;
  const jobTimeoutMs = Math.min(opts.jobTimeoutMs ?? 45_000, visibilitySeconds * 1000 - 1000);
  const jobs = await claimJobs(opts.sql, { worker: opts.worker, limit: opts.limit ?? 10, visibilitySeconds, kinds });
  const summary: BatchSummary = { claimed: jobs.length, completed: 0, retried: 0, dead: 0, lost: 0 };
  const succeeded: Job[] = [];

  await Promise.all(jobs.map(async (job) => {
    const log = opts.log.child({ job_id: job.id, kind: job.kind, attempt: job.attempts });
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          // Reject before aborting: a handler that returns on abort must not win the race.
          reject(new Error(`handler timed out after ${jobTimeoutMs} ms`));
          controller.abort();
        }, jobTimeoutMs);
      });
      await Promise.race([opts.handlers[job.kind](job, { sql: opts.sql, log, signal: controller.signal }), timeout]);
      succeeded.push(job);
    } catch (err) {
      const outcome = await failJob(opts.sql, job, describe(err), {
        retryInMs: err instanceof RetryLater ? err.retryInMs : undefined,
        permanent: err instanceof PermanentFailure,
      });
      if (outcome === "dead") summary.dead++;
      else if (outcome === "queued") summary.retried++;
      else summary.lost++;
      log.warn("job failed", { error: describe(err), outcome });
    } finally {
      clearTimeout(timer);
    }
  }));

  const completed = await completeJobs(opts.sql, succeeded);
  summary.completed = completed;
  summary.lost += succeeded.length - completed;
  return summary;
}

export interface DrainOptions extends RunBatchOptions {
  /** Stop claiming new batches after this long. */
  timeBudgetMs: number;
  /** After a partial batch, wait this long so the next claim takes a fuller batch: under load a
   * worker that re-claims at once runs one job per transaction pair and falls behind. */
  lingerMs?: number;
  /** Return as soon as a claim finds nothing (an invocation); false keeps polling (a daemon). */
  exitWhenIdle?: boolean;
  shouldStop?: () => boolean;
  now?: () => number;
}

export type DrainSummary = BatchSummary & { batches: number };

/** Runs batches until the queue is empty (or the budget is spent), the jobs-worker's loop. */
export async function drainQueue(opts: DrainOptions): Promise<DrainSummary> {
  const now = opts.now ?? Date.now;
  const started = now();
  const limit = opts.limit ?? 10;
  const linger = opts.lingerMs ?? 20;
  const total: DrainSummary = { claimed: 0, completed: 0, retried: 0, dead: 0, lost: 0, batches: 0 };
  while (!opts.shouldStop?.()) {
    const batch = await runJobBatch({ ...opts, limit });
    total.batches++;
    total.claimed += batch.claimed;
    total.completed += batch.completed;
    total.retried += batch.retried;
    total.dead += batch.dead;
    total.lost += batch.lost;
    if (batch.claimed === 0 && opts.exitWhenIdle !== false) break;
    if (now() - started >= opts.timeBudgetMs) break;
    if (batch.claimed < limit && linger > 0) await new Promise((r) => setTimeout(r, linger));
  }
  return total;
}
