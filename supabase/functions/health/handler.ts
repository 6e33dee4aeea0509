// The health function: is the database reachable, and is the job worker keeping up?
// Public (verify_jwt = false) and free of secrets, so load balancers and `switchboard status` can use it.

import type { Sql } from "../_shared/platform/db.ts";
import type { Fetched, PrivateRow } from "../_shared/platform/rows.ts";
import { errorResponse, json } from "../_shared/platform/http.ts";

export interface HealthDeps {
  sql: Sql;
  /** A worker that has not run for this long while jobs are ready is reported as stalled. */
  workerStaleAfterSeconds: number;
  version: string;
  /** How the functions reach Postgres: through the transaction pooler, or directly. */
  connection?: "pooler" | "direct";
  /** Which AI replies run: a model (and which), or offline FAQ answers. No key or URL here. */
  ai?: { mode: "model" | "offline"; chat_model: string | null; embedding_model: string | null; transcription: boolean };
  /** An account with no delivery for this long is counted as silent. */
  silentAccountHours?: number;
  /** The local runtime's view of every function process (npm start/test); hosted has none, so
   * there health reports only what the database shows. */
  functionProcesses?: () => Promise<FunctionProcess[] | null>;
}

/** One function process as the local runtime reports it. */
export interface FunctionProcess {
  name: string;
  state: string;
  pid: number | null;
  restarts: number;
  last_exit: { at: string; code: number; signal: string | null } | null;
}

/** Queue counts, and the worker's last run as its heartbeat row has it (null before its first run). */
type QueueHealth =
  & { ready: number; scheduled: number; running: number; dead: number; oldest_ready_seconds: number | null }
  & { accounts: number; silent_accounts: number; last_delivery_at: Date | null }
  & { ai_paused_at: Date | null; ai_paused_code: string | null; ai_paused_reason: string | null }
  & { ai_paused_handoffs: number | null; ai_next_probe_at: Date | null }
  & Fetched<
    {
      worker_last_run_at: PrivateRow<"worker_heartbeats">["last_run_at"] | null;
      worker_last_error: PrivateRow<"worker_heartbeats">["last_error"];
    },
    "worker_last_run_at"
  >;

export async function handler(req: Request, deps: HealthDeps): Promise<Response> {
  if (req.method !== "GET" && req.method !== "HEAD") return errorResponse(405, "method_not_allowed", "Use GET.");
  const started = performance.now();
  let row: QueueHealth;
  try {
    [row] = await deps.sql<QueueHealth[]>`
      select
        (select count(*) from private.jobs where status = 'queued' and run_at <= now())::int as ready,
        (select count(*) from private.jobs where status = 'queued' and run_at > now())::int as scheduled,
        (select count(*) from private.jobs where status = 'running')::int as running,
        (select count(*) from private.jobs where status = 'dead')::int as dead,
        (select extract(epoch from now() - min(run_at)) from private.jobs
          where status = 'queued' and run_at <= now())::float8 as oldest_ready_seconds,
        (select last_run_at from private.worker_heartbeats where worker = 'jobs-worker') as worker_last_run_at,
        (select last_error from private.worker_heartbeats where worker = 'jobs-worker') as worker_last_error,
        (select count(*) from public.chatwoot_accounts)::int as accounts,
        (select max(last_delivery_at) from public.chatwoot_accounts) as last_delivery_at,
        (select count(*) from public.chatwoot_accounts
          where last_delivery_at is null
             or last_delivery_at < now() - make_interval(hours => ${deps.silentAccountHours ?? 24}))::int
          as silent_accounts,
        p.paused_at as ai_paused_at, p.code as ai_paused_code, p.reason as ai_paused_reason,
        p.handoffs as ai_paused_handoffs, p.next_probe_at as ai_next_probe_at
      from (select 1) one left join private.ai_pause p on true`;
  } catch (err) {
    return json({
      status: "down",
      database: { ok: false, error: err instanceof Error ? err.message : String(err) },
      version: deps.version,
    }, 503);
  }
  const dbLatencyMs = Math.round((performance.now() - started) * 10) / 10;
  const lastRun = row.worker_last_run_at;
  const sinceRun = lastRun ? (Date.now() - lastRun.getTime()) / 1000 : null;
  const stalled = row.ready > 0 && (row.oldest_ready_seconds ?? 0) > deps.workerStaleAfterSeconds &&
    (sinceRun === null || sinceRun > deps.workerStaleAfterSeconds);
  const workerStatus = stalled ? "stalled" : row.worker_last_error ? "erroring" : lastRun ? "ok" : "idle";
  const processes = await deps.functionProcesses?.().catch(() => null) ?? null;
  const processesDown = processes?.filter((p) => p.state !== "up").map((p) => p.name) ?? [];
  // The AI paused for quota is degraded service: every customer goes to a person until someone acts.
  const aiPaused = row.ai_paused_at !== null;
  const healthy = (workerStatus === "ok" || workerStatus === "idle") && processesDown.length === 0 && !aiPaused;
  return json({
    status: healthy ? "ok" : "degraded",
    database: { ok: true, latency_ms: dbLatencyMs, connection: deps.connection ?? "direct" },
    worker: {
      status: workerStatus,
      last_run_at: lastRun?.toISOString() ?? null,
      last_error: row.worker_last_error,
      jobs: { ready: row.ready, scheduled: row.scheduled, running: row.running, dead: row.dead },
      oldest_ready_seconds: row.oldest_ready_seconds === null ? null : Math.round(row.oldest_ready_seconds),
    },
    // Counts only: health is public, and which store went quiet is for `switchboard accounts list`.
    deliveries: {
      accounts: row.accounts,
      silent_accounts: row.silent_accounts,
      silent_after_hours: deps.silentAccountHours ?? 24,
      last_delivery_at: row.last_delivery_at?.toISOString() ?? null,
    },
    ...(processes ? { functions: { down: processesDown, processes } } : {}),
    ...(deps.ai || aiPaused
      ? {
        ai: {
          ...(deps.ai ?? {}),
          status: aiPaused ? "paused" : "running",
          paused: aiPaused
            ? {
              since: row.ai_paused_at!.toISOString(),
              code: row.ai_paused_code,
              reason: row.ai_paused_reason,
              handoffs: row.ai_paused_handoffs,
              next_probe_at: row.ai_next_probe_at?.toISOString() ?? null,
            }
            : null,
        },
      }
      : {}),
    version: deps.version,
  });
}
