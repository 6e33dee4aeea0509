// The job queue seen from TypeScript: enqueue inside a caller's transaction, claim a batch,
// check each payload against its kind's schema, run its handler with a deadline and a CPU meter,
// and record each outcome (complete, retry with backoff, dead-letter). The SQL side (private.*)
// owns the semantics; this module owns the loop.

import type { z } from "zod";
import type { Sql, TransactionSql } from "../platform/db.ts";
import type { Logger } from "../platform/log.ts";
import type { Fetched, PrivateRow } from "../platform/rows.ts";
import type { CpuTimer } from "../platform/cpu_timer.ts";

/** A payload as stored: a JSON object, until its kind's schema has read it. */
export type JobPayload = Record<string, unknown>;

/** A claimed job: ids as text (bigint and uuid), the lease that proves this worker owns it, and
 * its payload as the kind's schema parsed it (`P`). */
export type Job<P = JobPayload> =
  & Fetched<
    Pick<
      PrivateRow<"jobs">,
      "kind" | "idempotency_key" | "store_id" | "attempts" | "max_attempts" | "last_error" | "created_at"
    >,
    "created_at"
  >
  & { id: string; lease: string; payload: P };

/** Throw from a handler to retry after a specific delay (e.g. a Retry-After header). */
export class RetryLater extends Error {
  constructor(message: string, readonly retryInMs?: number) {
    super(message);
    this.name = "RetryLater";
  }
}

/** Throw from a handler when the work cannot start yet for a reason that is not a failure (a rate
 * limit's window still open, a quota slot later on): the job runs again after `delayMs` and the
 * attempt its claim counted is given back, so waiting never dead-letters it. */
export class Deferred extends Error {
  constructor(message: string, readonly delayMs: number) {
    super(message);
    this.name = "Deferred";
  }
}

/** Throw from a handler when retrying cannot help (bad payload, resource gone). */
export class PermanentFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PermanentFailure";
  }
}

/** CPU one worker invocation has spent, as far as JavaScript can tell: hosted Supabase ends a
 * request at 2 s of CPU (error 546), and Deno 2.1 (the edge runtime) has no process.cpuUsage(),
 * so handlers time their CPU-bound synchronous work (hashing, parsing, encoding) with `time`, and
 * the loop charges each job a fixed overhead for its own share (rows, JSON, logging). */
export interface CpuMeter extends CpuTimer {
  add(ms: number): void;
  spentMs(): number;
  /** A meter for one job: what it charges counts here too, and it knows its own share. */
  child(): CpuMeter;
}

export function cpuMeter(parent?: CpuMeter): CpuMeter {
  let spent = 0;
  let depth = 0; // a timed section inside another is already being charged
  const meter: CpuMeter = {
    time(fn) {
      const started = performance.now();
      depth++;
      try {
        return fn();
      } finally {
        if (--depth === 0) meter.add(performance.now() - started);
      }
    },
    add(ms) {
      spent += ms;
      parent?.add(ms);
    },
    spentMs: () => spent,
    child: () => cpuMeter(meter),
  };
  return meter;
}

/** The most CPU one job of each kind has cost in this process (an isolate serves many runs):
 * what a job of that kind is expected to cost before it starts. */
const observedCost = new Map<string, number>();
/** A kind never seen is expected to cost the most any kind has cost (or this, before any). */
const UNSEEN_KIND_MS = 25;

function expectedCost(kind: string): number {
  return observedCost.get(kind) ?? Math.max(UNSEEN_KIND_MS, ...observedCost.values());
}

/** Hands claimed-but-unstarted jobs back (no attempt charged, ready at once). */
export async function releaseJobs(sql: Sql, jobs: Pick<Job, "id" | "lease">[]): Promise<number> {
  if (jobs.length === 0) return 0;
  const [row] = await sql<{ n: number }[]>`
    select private.release_jobs(${sql.array(jobs.map((j) => j.id))}::bigint[],
                                ${sql.array(jobs.map((j) => j.lease))}::uuid[]) as n`;
  return row.n;
}

export interface JobContext {
  sql: Sql;
  log: Logger;
  signal: AbortSignal;
  cpu: CpuMeter;
}

export type JobHandler<P = JobPayload> = (job: Job<P>, ctx: JobContext) => Promise<void>;

/** One kind of job: the schema its payload must satisfy and the handler that does the work. */
export interface JobKind<P = unknown> {
  payload: z.ZodType<P>;
  // A method, so a kind with a narrower payload still fits in one registry.
  run(job: Job<P>, ctx: JobContext): Promise<void>;
}

/** Every kind a worker runs, by name (built by _shared/jobs/registry.ts). */
export type JobRegistry = Record<string, JobKind>;

/** A kind whose handler sees the payload as `payload` parses it. */
export function jobKind<P>(payload: z.ZodType<P>, run: JobHandler<P>): JobKind<P> {
  return { payload, run };
}

export interface EnqueueInput {
  kind: string;
  payload?: JobPayload;
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

/** Whether a job of `kind` about an earlier message of the same conversation is still queued or
 * running: a kind whose jobs must run in message order per conversation (ai.reply) asks before it
 * starts. Its payloads carry account_ref, conversation_display_id and message_id; the partial
 * index jobs_pending_by_conversation_idx keeps this a lookup however long the queue is. */
export async function earlierJobInConversation(
  sql: Sql,
  kind: string,
  at: { account_ref: string; conversation_display_id: number; message_id: number },
): Promise<boolean> {
  const [row] = await sql<{ ahead: boolean }[]>`
    select exists (
      select 1 from private.jobs j
      where j.kind = ${kind} and j.status in ('queued', 'running') and j.payload ? 'conversation_display_id'
        and j.payload ->> 'account_ref' = ${at.account_ref}
        and j.payload ->> 'conversation_display_id' = ${String(at.conversation_display_id)}
        and (j.payload ->> 'message_id')::bigint < ${at.message_id}
    ) as ahead`;
  return row.ahead;
}

export interface ClaimOptions {
  worker: string;
  limit?: number;
  visibilitySeconds?: number;
  kinds?: string[] | null;
}

export async function claimJobs(sql: Sql, opts: ClaimOptions): Promise<Job[]> {
  return await sql<Job[]>`
    select id::text as id, kind, payload, idempotency_key, store_id, attempts, max_attempts, lease::text as lease,
           last_error, created_at
    from private.claim_jobs(${opts.worker}, ${opts.limit ?? 10},
                            make_interval(secs => ${opts.visibilitySeconds ?? 60}), ${opts.kinds ?? null}::text[])`;
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

/** Re-queues a held job after `delayMs` without charging the attempt; false when the lease was lost. */
export async function deferJob(
  sql: Sql,
  job: Pick<Job, "id" | "lease">,
  reason: string,
  delayMs: number,
): Promise<boolean> {
  const [row] = await sql<{ ok: boolean }[]>`
    select private.defer_job(${job.id}::bigint, ${job.lease}::uuid, ${reason},
      make_interval(secs => ${Math.max(0, delayMs) / 1000}::float8)) as ok`;
  return row.ok;
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
  /** Claimed, then handed back unstarted: the CPU budget would not pay for them. */
  released: number;
  /** Ran and found they must wait (`Deferred`): re-queued with their attempt given back. */
  deferred: number;
}

/** What the loop itself costs per job in CPU (claim row, JSON, completion, logs), charged on top
 * of what the handler times: small, so a run of cheap jobs is bounded by the batch size. */
export const JOB_CPU_OVERHEAD_MS = 1;

export interface RunBatchOptions {
  sql: Sql;
  registry: JobRegistry;
  log: Logger;
  worker: string;
  limit?: number;
  visibilitySeconds?: number;
  /** A handler running longer than this is abandoned and its job retried. Keep below visibility. */
  jobTimeoutMs?: number;
  /** The invocation's CPU meter, shared by its batches; a fresh one when absent. */
  cpu?: CpuMeter;
  /** With a budget, a claimed job starts only if what is spent, what the running jobs are expected
   * to cost and its own expected cost fit; the others are released for the next run. */
  cpuBudgetMs?: number;
}

function describe(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

/** The schema's complaints in one line, for last_error: "message_id: Invalid input: expected number, received string". */
function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => (i.path.length ? `${i.path.join(".")}: ` : "") + i.message).join("; ");
}

/** Runs one claimed job: its payload checked against its kind's schema (a payload that fails
 * can never succeed: dead-lettered, naming the problems), then its handler under a deadline. */
async function runJob(
  kind: JobKind,
  job: Job,
  ctx: Omit<JobContext, "signal">,
  jobTimeoutMs: number,
): Promise<void> {
  const parsed = ctx.cpu.time(() => kind.payload.safeParse(job.payload));
  if (!parsed.success) throw new PermanentFailure(`invalid ${job.kind} payload: ${describeIssues(parsed.error)}`);
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
    await Promise.race([kind.run({ ...job, payload: parsed.data }, { ...ctx, signal: controller.signal }), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Claims one batch of jobs whose kinds are registered, runs them concurrently, records outcomes. */
export async function runJobBatch(opts: RunBatchOptions): Promise<BatchSummary> {
  const visibilitySeconds = opts.visibilitySeconds ?? 60;
  const jobTimeoutMs = Math.min(opts.jobTimeoutMs ?? 45_000, visibilitySeconds * 1000 - 1000);
  const cpu = opts.cpu ?? cpuMeter();
  const jobs = await claimJobs(opts.sql, {
    worker: opts.worker,
    limit: opts.limit ?? 10,
    visibilitySeconds,
    kinds: Object.keys(opts.registry),
  });
  const summary: BatchSummary = {
    claimed: jobs.length,
    completed: 0,
    retried: 0,
    dead: 0,
    lost: 0,
    released: 0,
    deferred: 0,
  };
  const succeeded: Job[] = [];

  // Admission against the CPU budget, in claim order: the first job always starts (a run must make
  // progress), the others only while what is spent and what the started ones are expected to cost
  // stay under the budget (so a run ends at most one job past it). Claim sizes alone overshoot on
  // a mixed queue (measured: a cheap first job let twenty 25 MiB archive jobs into one run, 7.5 s).
  const admitted: Job[] = [];
  const released: Job[] = [];
  let expected = 0;
  const unseenAdmitted = new Set<string>();
  for (const job of jobs) {
    const cost = expectedCost(job.kind);
    // A kind this process has never run is learnt from one job before others of it start.
    const unseen = !observedCost.has(job.kind);
    const fits = opts.cpuBudgetMs === undefined || admitted.length === 0 && cpu.spentMs() === 0 ||
      !(unseen && unseenAdmitted.has(job.kind)) && cpu.spentMs() + expected < opts.cpuBudgetMs;
    if (fits && unseen) unseenAdmitted.add(job.kind);
    if (fits && released.length === 0) {
      admitted.push(job);
      expected += cost;
    } else released.push(job);
  }
  summary.released = await releaseJobs(opts.sql, released);
  summary.claimed -= summary.released;

  await Promise.all(admitted.map(async (job) => {
    const log = opts.log.child({ job_id: job.id, kind: job.kind, attempt: job.attempts });
    const own = cpu.child();
    own.add(JOB_CPU_OVERHEAD_MS);
    try {
      await runJob(opts.registry[job.kind], job, { sql: opts.sql, log, cpu: own }, jobTimeoutMs);
      succeeded.push(job);
    } catch (err) {
      if (err instanceof Deferred) {
        if (await deferJob(opts.sql, job, describe(err), err.delayMs)) summary.deferred++;
        else summary.lost++;
        log.info("job deferred", { reason: err.message, delay_ms: err.delayMs });
        return;
      }
      const outcome = await failJob(opts.sql, job, describe(err), {
        retryInMs: err instanceof RetryLater ? err.retryInMs : undefined,
        permanent: err instanceof PermanentFailure,
      });
      if (outcome === "dead") summary.dead++;
      else if (outcome === "queued") summary.retried++;
      else summary.lost++;
      log.warn("job failed", { error: describe(err), outcome });
    } finally {
      observedCost.set(job.kind, Math.max(observedCost.get(job.kind) ?? 0, own.spentMs()));
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
  /** Stop claiming once the invocation has spent this much CPU (see CpuMeter); each claim takes
   * what is left at the average cost per job so far (one job at first, when nothing is known).
   * No bound when absent (daemons, benchmarks). */
  cpuBudgetMs?: number;
  /** After a partial batch, wait this long so the next claim takes a fuller batch: under load a
   * worker that re-claims at once runs one job per transaction pair and falls behind. */
  lingerMs?: number;
  /** Return as soon as a claim finds nothing (an invocation); false keeps polling (a daemon). */
  exitWhenIdle?: boolean;
  shouldStop?: () => boolean;
  now?: () => number;
}

export type DrainSummary = BatchSummary & { batches: number; cpu_ms: number };

/** How many jobs the next claim takes: the batch size, or fewer when the CPU budget left pays for
 * fewer at the average cost so far; one while nothing is known; none once the budget is spent. */
export function nextClaimSize(limit: number, cpuBudgetMs: number | undefined, spentMs: number, jobsRun: number) {
  if (cpuBudgetMs === undefined) return limit;
  const left = cpuBudgetMs - spentMs;
  if (left <= 0) return 0;
  if (jobsRun === 0) return 1;
  return Math.max(1, Math.min(limit, Math.floor(left / (spentMs / jobsRun))));
}

/** Runs batches until the queue is empty or a budget (time, CPU) is spent: the jobs-worker's loop. */
export async function drainQueue(opts: DrainOptions): Promise<DrainSummary> {
  const now = opts.now ?? Date.now;
  const started = now();
  const limit = opts.limit ?? 10;
  const linger = opts.lingerMs ?? 20;
  const cpu = opts.cpu ?? cpuMeter();
  const total: DrainSummary = {
    claimed: 0,
    completed: 0,
    retried: 0,
    dead: 0,
    lost: 0,
    released: 0,
    deferred: 0,
    batches: 0,
    cpu_ms: 0,
  };
  while (!opts.shouldStop?.()) {
    const size = nextClaimSize(limit, opts.cpuBudgetMs, cpu.spentMs(), total.claimed);
    if (size === 0) break;
    const batch = await runJobBatch({ ...opts, limit: size, cpu, cpuBudgetMs: opts.cpuBudgetMs });
    total.batches++;
    total.claimed += batch.claimed;
    total.completed += batch.completed;
    total.retried += batch.retried;
    total.dead += batch.dead;
    total.lost += batch.lost;
    total.released += batch.released;
    total.deferred += batch.deferred;
    if (batch.released > 0) break; // the budget is spent: the rest waits for the next run
    if (batch.claimed === 0 && opts.exitWhenIdle !== false) break;
    if (now() - started >= opts.timeBudgetMs) break;
    if (batch.claimed < size && linger > 0) await new Promise((r) => setTimeout(r, linger));
  }
  total.cpu_ms = Math.round(cpu.spentMs());
  return total;
}
