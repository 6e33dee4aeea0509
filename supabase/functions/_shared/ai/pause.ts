// The AI paused for quota: an OpenAI account out of credit (429 insufficient_quota) stays so until its owner acts,
// so the first job that meets it pauses the deployment's AI (private.ai_pause) and alerts: an error log line, the
// audit log, health turns "degraded", `switchboard ai status` and the admin app's AI page say why and since when.
// While paused, replies hand off to people and embedding jobs wait. It ends when an operator resumes it or when the
// ai.quota_probe job's one tiny embedding call succeeds again.

import { z } from "zod";
import type { Sql, TransactionSql } from "../platform/db.ts";
import type { Fetched, FunctionRow } from "../platform/rows.ts";
import type { Logger } from "../platform/log.ts";
import { Deferred, jobKind, type JobRegistry } from "../jobs/queue.ts";
import { AiQuotaExhausted, describeApiError } from "./openai_errors.ts";
import { createEmbedder, type EmbedderDeps, type EmbeddingConfig } from "./embeddings.ts";

/** Default wait between probes: a topped-up account answers again within minutes. */
export const DEFAULT_QUOTA_PROBE_MS = 10 * 60_000;

/** public.ai_pause_status()'s row as postgres.js reads it. */
export type AiPause = Fetched<
  FunctionRow<"ai_pause_status", "last_probe_at" | "last_probe_error" | "next_probe_at">,
  "paused_at" | "last_probe_at" | "next_probe_at"
>;

/** The current pause, or null while the AI runs. */
export async function currentAiPause(sql: Sql | TransactionSql): Promise<AiPause | null> {
  const [row] = await sql<AiPause[]>`select * from public.ai_pause_status()`;
  return row ?? null;
}

/** What a handoff says while the AI is paused (the private note and the decision's reason). */
export function pausedReason(pause: Pick<AiPause, "paused_at" | "code">): string {
  return `AI replies are paused: the OpenAI account is out of quota (${pause.code}) since ` +
    `${pause.paused_at.toISOString().replace(/\.\d+Z$/, "Z")}; an operator resumes them once billing is fixed ` +
    "(`switchboard ai resume`), or they resume by themselves when a probe succeeds";
}

/** Records the pause for `err` (the first caller wins; later ones find it) and alerts once. Returns the pause. */
export async function pauseAiForQuota(
  sql: Sql,
  err: AiQuotaExhausted,
  opts: { log?: Logger; probeAfterMs?: number } = {},
): Promise<AiPause> {
  const probeAfter = (opts.probeAfterMs ?? DEFAULT_QUOTA_PROBE_MS) / 1000;
  const [{ paused }] = await sql<{ paused: boolean }[]>`
    select private.pause_ai('insufficient_quota', ${err.endpoint}, ${err.apiMessage},
                            make_interval(secs => ${probeAfter}::float8)) as paused`;
  if (paused) {
    // The alert: one error line for log-based alerting, on the transition only.
    const detail = { code: "insufficient_quota", endpoint: err.endpoint, reason: err.apiMessage };
    if (opts.log) opts.log.error("AI paused: the OpenAI account is out of quota", detail);
    else {console.error(
        JSON.stringify({ level: "error", msg: "AI paused: the OpenAI account is out of quota", ...detail }),
      );}
  }
  const pause = await currentAiPause(sql);
  // Resumed in between (an operator was quick): report the pause this call met all the same.
  return pause ?? {
    paused_at: new Date(),
    code: "insufficient_quota",
    endpoint: err.endpoint,
    reason: err.apiMessage,
    handoffs: 0,
    probes: 0,
    last_probe_at: null,
    last_probe_error: null,
    next_probe_at: null,
  };
}

export async function countPausedHandoff(sql: Sql): Promise<void> {
  await sql`select private.count_ai_pause_handoff()`;
}

/** Ends the pause (an operator, or a probe); false when the AI was not paused. */
export async function resumeAi(sql: Sql | TransactionSql, actor: string, how: string): Promise<boolean> {
  const [row] = await sql<{ resumed: boolean }[]>`select private.resume_ai(${actor}, ${how}) as resumed`;
  return row.resumed;
}

/** What a job that cannot use the API while paused throws: it waits (its attempt given back) until the next probe;
 * a resume wakes it earlier (private.resume_ai picks jobs whose last error starts "AI paused"). */
export function waitForResume(pause: Pick<AiPause, "next_probe_at" | "code">): Deferred {
  const until = pause.next_probe_at ? pause.next_probe_at.getTime() - Date.now() : DEFAULT_QUOTA_PROBE_MS;
  return new Deferred(
    `AI paused: the OpenAI account is out of quota (${pause.code}); waiting for the resume`,
    Math.max(1_000, until + 1_000),
  );
}

export interface QuotaProbeDeps {
  sql: Sql;
  embedding: EmbeddingConfig | null;
  probeEveryMs?: number;
  /** For tests: the embedder's client or fetch. */
  embedder?: EmbedderDeps;
}

/** One probe: a one-word embedding with the deployment's key. Success resumes; a failure is recorded and the probe
 * waits for its next turn. "resumed", "still paused", or "not paused" (nothing to do). */
export async function probeAiQuota(deps: QuotaProbeDeps, log?: Logger): Promise<string> {
  const pause = await currentAiPause(deps.sql);
  if (!pause) return "not paused";
  const every = deps.probeEveryMs ?? DEFAULT_QUOTA_PROBE_MS;
  if (!deps.embedding) {
    // The key was removed: offline mode makes no model call, so nothing is left to pause.
    await resumeAi(deps.sql, "switchboard", "no OPENAI_API_KEY any more (offline mode)");
    return "resumed";
  }
  try {
    await createEmbedder(deps.embedding, deps.embedder).embed(["quota probe"]);
  } catch (err) {
    const detail = err instanceof AiQuotaExhausted ? err.apiMessage : describeApiError(err);
    await deps.sql`select private.record_ai_probe(${detail}, make_interval(secs => ${every / 1000}::float8))`;
    log?.warn("AI still paused: the quota probe failed", { error: detail });
    return "still paused";
  }
  await resumeAi(deps.sql, "switchboard", "a quota probe succeeded");
  log?.info("AI resumed: the quota probe succeeded");
  return "resumed";
}

/** The ai.quota_probe job: probes, then waits for its next turn while the pause lasts (a Deferred, so waiting never
 * uses up its attempts). */
export function pauseJobHandlers(deps: QuotaProbeDeps): JobRegistry {
  return {
    "ai.quota_probe": jobKind(z.object({}), async (_job, { log }) => {
      const outcome = await probeAiQuota(deps, log);
      if (outcome === "still paused") {
        throw new Deferred("AI paused: the quota probe will try again", deps.probeEveryMs ?? DEFAULT_QUOTA_PROBE_MS);
      }
    }),
  };
}
