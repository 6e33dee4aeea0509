// The jobs-worker function: drains the queue in batches within a time and a CPU budget,
// dispatching each job to the handler registered for its kind. Invoked by pg_cron + pg_net in production and by
// the local stack's LISTEN/NOTIFY driver; many invocations may run at once (skip locked).

import { z } from "zod";
import type { CredentialVerifier } from "../_shared/platform/credentials.ts";
import type { Sql } from "../_shared/platform/db.ts";
import { errorResponse, json } from "../_shared/platform/http.ts";
import { drainQueue, type DrainSummary, enqueueJob, type JobRegistry } from "../_shared/jobs/queue.ts";
import type { Logger } from "../_shared/platform/log.ts";

export interface WorkerDeps {
  sql: Sql;
  /** Only the service (a secret key) may run the worker. */
  verifyCaller: CredentialVerifier;
  registry: JobRegistry;
  log: Logger;
  /** Identifies this invocation in job rows and heartbeats. */
  workerName: string;
  batchSize: number;
  visibilitySeconds: number;
  /** Stop claiming new batches after this long, so the invocation ends before its platform limit. */
  timeBudgetMs: number;
  /** Stop claiming once the jobs have used this much CPU: hosted ends a request at 2 s of CPU
   * (error 546), and a claim is sized by what is left (see drainQueue). */
  cpuBudgetMs: number;
  /** Pause after a partial batch so the next claim is fuller (see drainQueue). */
  lingerMs?: number;
  now?: () => number;
}

const bodySchema = z.object({
  limit: z.number().int().min(1).max(500).optional(),
  time_budget_ms: z.number().int().min(0).max(300_000).optional(),
}).strict();

/** The minute (epoch minutes) this isolate last enqueued the minute's jobs for. */
let minuteJobsEnqueued = -1;

export async function handler(req: Request, deps: WorkerDeps): Promise<Response> {
  if (req.method !== "POST") return errorResponse(405, "method_not_allowed", "Use POST to run the worker.");
  const check = await deps.verifyCaller(req);
  if (!check.ok) {
    deps.log.warn("worker refused credentials", { reason: check.reason });
    return errorResponse(401, "invalid_credentials", "The token or API key is not valid for this project.");
  }
  if (check.caller.kind === "none") {
    return errorResponse(401, "credentials_required", "Send the project's secret key in the apikey header.");
  }
  if (check.caller.kind !== "service") {
    return errorResponse(
      403,
      "forbidden",
      "Only the service_role may run the worker: the project's secret key in apikey (pg_cron, the stack runner).",
    );
  }
  let body: unknown = {};
  const text = await req.text();
  if (text.trim() !== "") {
    try {
      body = JSON.parse(text);
    } catch {
      return errorResponse(400, "malformed_json", "The request body is not valid JSON.");
    }
  }
  const parsed = bodySchema.safeParse(body);
  if (!parsed.success) {
    return errorResponse(400, "invalid_body", "Unexpected worker options.", parsed.error.issues.map((i) => i.message));
  }
  const now = deps.now ?? Date.now;
  const started = now();
  let total: DrainSummary = {
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
  let lastError: string | null = null;

  // Housekeeping rides on the queue itself: one purge per day, whoever runs first.
  if (deps.registry["jobs.purge_completed"]) {
    const day = new Date(started).toISOString().slice(0, 10);
    await enqueueJob(deps.sql, { kind: "jobs.purge_completed", idempotencyKey: `jobs.purge_completed:${day}` });
  }

  // The minute's rollup and alert evaluation: enqueued once per minute whoever runs first (pg_cron
  // does it too on hosted, where the worker runs only when jobs are ready).
  const minute = Math.floor(started / 60_000);
  if (deps.registry["metrics.rollup"] && minuteJobsEnqueued !== minute) {
    await deps.sql`select private.enqueue_minute_jobs()`;
    minuteJobsEnqueued = minute;
  }

  try {
    // Periodic work is scheduled here too: due reconciliations become jobs (once, whoever runs).
    if (deps.registry["chatwoot.reconcile"]) await deps.sql`select private.enqueue_due_reconciliations()`;
    total = await drainQueue({
      sql: deps.sql,
      registry: deps.registry,
      log: deps.log,
      worker: deps.workerName,
      limit: parsed.data.limit ?? deps.batchSize,
      visibilitySeconds: deps.visibilitySeconds,
      timeBudgetMs: parsed.data.time_budget_ms ?? deps.timeBudgetMs,
      cpuBudgetMs: deps.cpuBudgetMs,
      lingerMs: deps.lingerMs,
      now,
    });
  } catch (err) {
    lastError = err instanceof Error ? err.message : String(err);
    deps.log.error("worker run failed", { error: lastError });
  }

  await deps.sql`
    insert into private.worker_heartbeats (worker, last_run_at, last_claimed, last_error)
    values ('jobs-worker', now(), ${total.claimed}, ${lastError})
    on conflict (worker) do update set last_run_at = excluded.last_run_at, last_claimed = excluded.last_claimed,
      last_error = excluded.last_error`.catch(() => {});

  if (lastError) {
    return errorResponse(500, "worker_failed", `The worker could not drain the queue: ${lastError}`, total);
  }
  return json({ ...total, duration_ms: now() - started });
}
